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

``quick_construction()`` memoizes both while a pipeline is built and run, and restores Beam's
functions afterwards. Both memos are exact:

- A view holds no state of its own: its values live in the options' ``_all_options`` dict,
  shared by every view, and its defaults come from parsing ``_flags``, which nothing changes
  after construction. So the view of one options object (the same ``_all_options`` and
  ``_flags`` objects) as one class is interchangeable with a fresh one; the memo keys on those
  two objects and keeps them alive, so an id is never reused within it.
- A DoFn's state and timer specs are the default values of its methods' parameters, fixed
  when the DoFn is made: the memo keys on the DoFn object itself, held weakly (an entry goes
  when its DoFn does).

Nothing here changes the graph, the pipeline proto or any output (a test compares the proto
built with and without it). Re-entrant: a batched run builds one pipeline per batch inside
its outer run.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0
_saved: dict[str, Any] = {}


@contextlib.contextmanager
def quick_construction() -> Iterator[None]:
    """Memoize ``PipelineOptions.view_as`` and ``userstate.get_dofn_specs`` inside the block
    (see the module docstring); Beam's own functions are back when the outermost block ends."""
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


def _install() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import userstate

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

    _saved.update(view_as=view_as, get_dofn_specs=get_dofn_specs)
    PipelineOptions.view_as = memo_view_as  # type: ignore[method-assign]
    # every caller in Beam looks it up on the module (``userstate.get_dofn_specs(...)``)
    userstate.get_dofn_specs = memo_get_dofn_specs


def _uninstall() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import userstate

    PipelineOptions.view_as = _saved["view_as"]  # type: ignore[method-assign]
    userstate.get_dofn_specs = _saved["get_dofn_specs"]
    _saved.clear()
