"""Building and submitting a pipeline with less of Beam's repeated introspection.

Beam's Python SDK repeats two pieces of work for every transform it applies and translates,
and on thresher's graph (about 430 transforms) they were most of the launcher's time between
its imports and the workers' start:

- ``PipelineOptions.view_as(cls)`` builds a new ``argparse`` parser for ``cls`` and parses the
  flags again, every time it is called: about 1,500 times while the graph is built (type
  checks, labels, result types), 0.4-0.9 s.
- ``userstate.get_dofn_specs(dofn)`` walks every attribute of a DoFn and takes the signature of
  each method, three times per ``ParDo`` (once while applying, twice while translating): about
  25,000 signatures, most of the 0.6-0.9 s of ``Pipeline.to_runner_api``.

A worker repeats the second for every stage it runs: each stage's DoFns are unpickled afresh
and their bundle processor asks for their specs (twice) and for the arguments of each method it
wraps, about 35 signatures per DoFn, about a third of the 11-12 ms a stage took to set up. So
there is a third memo, under both:

- ``core.get_function_args_defaults(f)`` (the positional arguments of a function or method, and
  their defaults), the one call all of the above goes through to ``inspect.signature``.

``quick_construction()`` memoizes all three while a pipeline is built and run, and restores
Beam's functions afterwards; a warm worker (``thresher.warm``) runs inside it for its life. The
memos are exact:

- A view holds no state of its own: its values live in the options' ``_all_options`` dict,
  shared by every view, and its defaults come from parsing ``_flags``, which nothing changes
  after construction. So the view of one options object (the same ``_all_options`` and
  ``_flags`` objects) as one class is interchangeable with a fresh one; the memo keys on those
  two objects and keeps them alive, so an id is never reused within it.
- A DoFn's state and timer specs are the default values of its methods' parameters, fixed
  when the DoFn is made: the memo keys on the DoFn object itself, held weakly (an entry goes
  when its DoFn does).
- What Beam reads from a plain function (its positional arguments and their defaults) depends
  only on its code object, its ``__defaults__`` tuple and whether it is called bound: the memo
  stores Beam's own answer per function (held weakly) and per bound or not, checks on every hit
  that both attributes are still the same objects, and hands out fresh lists. Functions that
  tell ``inspect`` otherwise (``__wrapped__``, ``__signature__``, partial methods) and every
  other callable go to Beam's function each time. (An entry holds the function's code and
  defaults; a default that refers back to its own function would keep that function alive.)

Nothing here changes the graph, the pipeline proto or any output (a test compares the proto
built with and without it). Re-entrant: a batched run builds one pipeline per batch inside
its outer run.

``without_pandas()`` hides pandas (``import pandas`` raises ``ImportError``) inside a block,
for the processes that only run thresher's pipeline. Where pandas is installed (``datasets``
brings it in), Beam imports it, only to register conversions for its DataFrame API and
pandas-typed batches, and pyarrow on its first array built from Python objects, to tell
pandas objects apart; thresher uses neither. That is 0.2-0.26 s of each process that loads
it: the CLI launcher imports Beam inside the block (afterwards pandas imports as usual;
Beam's pandas conversions stay unregistered there), and the warm server runs inside it for
its life, so neither it nor the workers it forks ever load pandas.

``prompt_bundles()`` spares each bundle two thread waits in the block. First, it shortens the
sampling period of Beam's state sampler.
Each bundle a worker processes starts a sampling thread that sleeps in C (``usleep``, 2 ms at
first, each sleep 1.2 times the last, at most 200 ms) and adds the time to the step running
when it wakes; the bundle's end sets a flag and joins that thread, so it waits out the sleep
in progress: on average a tenth of a short bundle and 100 ms of a long one (the 1-s stage
before the PII stage waited 97 ms for it in a profile), and a stage ends when its last
worker does. At 10 ms the wait is at most 10 ms, at a cost of one uncontended lock a wake
(100 a second). The step times Beam reports (``stage_msecs``) come from these samples and
are finer for it; nothing else reads the period. It covers the warm workers for their life
and the launcher's own bundles (a run with one worker processes them in process); workers
that Beam starts itself keep Beam's period. Second, a bundle processor (one per stage and
worker) builds its operations, unpickling the stage's functions, on a thread of its own that
it starts, waits for and joins (so that a stuck unpickling can time out after an hour, with a
thread dump); inside the block that work runs in the calling thread instead, the same code in
the same order. The thread's start and join cost about 1.8 ms of each of a worker's 59 small
bundles on the 48 long documents, with the other threads of a worker holding the GIL.

``gc_paused()`` turns Python's cyclic garbage collector off for a block. Importing Beam,
Presidio and spaCy, building the PII analyzer and building the graph make a few million objects
that live on and almost no cyclic garbage, yet each full collection the allocations trigger
walks all of them: on the 2-core VM the warm server's load took 0.2-0.3 s longer with the
collector on, and the collection it made before forking (0.10-0.14 s) found nothing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0
_saved: dict[str, Any] = {}
# attributes through which a function's signature is not its code's (``inspect.signature``)
_SIGNATURE_HOOKS = ("__wrapped__", "__signature__", "_partialmethod", "__partialmethod__")


@contextlib.contextmanager
def quick_construction() -> Iterator[None]:
    """Memoize ``PipelineOptions.view_as``, ``userstate.get_dofn_specs`` and
    ``core.get_function_args_defaults`` inside the block (see the module docstring); Beam's own
    functions are back when the outermost block ends."""
    global _depth
    with _lock:
        if _depth == 0:
            _install()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _uninstall()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic garbage collection inside the block (see the module docstring); the
    collector is back as it was when the block ends. Re-entrant: an inner block leaves it
    to the outer one."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _NoPandas:
    """An import finder that answers pandas and its modules with ``ModuleNotFoundError``, as
    if it were not installed (a ``None`` in ``sys.modules`` would not do: pyarrow's check
    imports it from C and reads the ``None``)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by thresher)", name=name)


@contextlib.contextmanager
def without_pandas() -> Iterator[None]:
    """pandas hidden inside the block (``import pandas`` raises ``ModuleNotFoundError``) when
    neither it nor Beam is loaded yet; a no-op otherwise (see the module docstring)."""
    if "apache_beam" in sys.modules or "pandas" in sys.modules:
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


# Beam's state sampler period, in milliseconds, inside ``prompt_bundles`` (Beam: 200).
SAMPLING_PERIOD_MS = 10
_bundles_depth = 0  # nesting of ``prompt_bundles`` blocks
_sampler_defaults: tuple[Any, ...] | None = None  # Beam's, while replaced
_beams_concurrent: Any = None  # bundle_processor's ``concurrent`` module, while replaced


class _InlineExecutor:
    """What Beam's bundle processor uses of ``concurrent.futures.ThreadPoolExecutor``, run in
    the calling thread: ``submit`` runs its one task at once and returns its settled future."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller's ``result()`` raises it, as Beam expects
            future.set_exception(exc)
        return future


@contextlib.contextmanager
def prompt_bundles() -> Iterator[None]:
    """Inside the block, Beam's state samplers sample every ``SAMPLING_PERIOD_MS`` and its
    bundle processors build their operations in the calling thread (see the module
    docstring); Beam's ways are back when the outermost block ends. A Beam whose sampler takes
    its period some other way, or whose bundle processor holds no ``concurrent`` module, is
    left as it is."""
    global _bundles_depth, _sampler_defaults, _beams_concurrent
    from apache_beam.runners.worker import bundle_processor, statesampler

    init = statesampler.StateSampler.__init__
    with _lock:
        if _bundles_depth == 0:
            if _period_is_last_default(init):
                _sampler_defaults = init.__defaults__
                init.__defaults__ = (SAMPLING_PERIOD_MS,)
            if getattr(bundle_processor, "concurrent", None) is concurrent:
                _beams_concurrent = bundle_processor.concurrent
                bundle_processor.concurrent = types.SimpleNamespace(  # type: ignore[assignment]
                    futures=types.SimpleNamespace(
                        ThreadPoolExecutor=_InlineExecutor,
                        TimeoutError=concurrent.futures.TimeoutError,
                    )
                )
        _bundles_depth += 1
    try:
        yield
    finally:
        with _lock:
            _bundles_depth -= 1
            if _bundles_depth == 0:
                if _sampler_defaults is not None:
                    init.__defaults__ = _sampler_defaults
                    _sampler_defaults = None
                if _beams_concurrent is not None:
                    bundle_processor.concurrent = _beams_concurrent
                    _beams_concurrent = None


def _period_is_last_default(init: Any) -> bool:
    """Whether ``init`` is Beam 2.7x's ``StateSampler.__init__(self, prefix, counter_factory,
    sampling_period_ms=200)``: a plain function whose one default is the period."""
    code = getattr(init, "__code__", None)
    if code is None or init.__defaults__ is None or len(init.__defaults__) != 1:
        return False
    names = code.co_varnames[: code.co_argcount]
    return names[-1] == "sampling_period_ms" and isinstance(init.__defaults__[0], int)


def active() -> bool:
    """Whether the memos are in place (inside a ``quick_construction`` block)."""
    return _depth > 0


def _install() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import core, userstate

    view_as = PipelineOptions.view_as
    get_dofn_specs = userstate.get_dofn_specs
    views: dict[tuple[int, int, type], tuple[Any, Any, Any]] = {}
    specs: dict[int, tuple[weakref.ref[Any], Any]] = {}

    def memo_view_as(self: Any, cls: type) -> Any:
        shared, flags = self._all_options, self._flags
        key = (id(shared), id(flags), cls)
        hit = views.get(key)
        if hit is not None and hit[0] is shared and hit[1] is flags:
            return hit[2]
        view: Any = view_as(self, cls)
        views[key] = (shared, flags, view)  # holding both keeps their ids unique here
        return view

    def memo_get_dofn_specs(dofn: Any) -> Any:
        key = id(dofn)
        hit = specs.get(key)
        if hit is not None and hit[0]() is dofn:
            return hit[1]
        found = get_dofn_specs(dofn)
        try:
            # weakly: a local run unpickles DoFns for every bundle processor (and a batched run
            # for every batch), and what their setup() loaded must not outlive them here
            ref = weakref.ref(dofn, lambda _: specs.pop(key, None))
        except TypeError:  # not weak-referenceable: left unmemoized
            return found
        specs[key] = (ref, found)
        return found

    args_defaults = core.get_function_args_defaults
    arguments: weakref.WeakKeyDictionary[Any, dict[bool, tuple[Any, Any, Any]]] = (
        weakref.WeakKeyDictionary()
    )

    def memo_args_defaults(f: Any) -> Any:
        if type(f) is types.FunctionType:
            function, bound = f, False
        elif type(f) is types.MethodType and type(f.__func__) is types.FunctionType:
            function, bound = f.__func__, True
        else:
            return args_defaults(f)
        if any(hook in function.__dict__ for hook in _SIGNATURE_HOOKS):
            return args_defaults(f)
        code, defaults = function.__code__, function.__defaults__
        entries = arguments.get(function)
        hit = None if entries is None else entries.get(bound)
        if hit is None or hit[0] is not code or hit[1] is not defaults:
            found = args_defaults(f)
            hit = (code, defaults, (tuple(found[0]), tuple(found[1])))
            arguments.setdefault(function, {})[bound] = hit
        return list(hit[2][0]), list(hit[2][1])  # Beam's callers get lists of their own

    _saved.update(view_as=view_as, get_dofn_specs=get_dofn_specs, args_defaults=args_defaults)
    PipelineOptions.view_as = memo_view_as  # type: ignore[method-assign]
    # every caller in Beam looks these up on their modules (``userstate.get_dofn_specs(...)``;
    # ``get_function_args_defaults`` only from inside ``core``)
    userstate.get_dofn_specs = memo_get_dofn_specs
    core.get_function_args_defaults = memo_args_defaults


def _uninstall() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import core, userstate

    PipelineOptions.view_as = _saved["view_as"]  # type: ignore[method-assign]
    userstate.get_dofn_specs = _saved["get_dofn_specs"]
    core.get_function_args_defaults = _saved["args_defaults"]
    _saved.clear()
