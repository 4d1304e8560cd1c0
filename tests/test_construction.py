"""``quick_construction``: the same graph, the same options, Beam's functions back afterwards."""

import functools
import gc
import weakref

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import (
    DebugOptions,
    PipelineOptions,
    StandardOptions,
    TypeOptions,
)
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.transforms import core, userstate
from apache_beam.transforms.timeutil import TimeDomain

from tests.conftest import REPO, fresh_python
from thresher.config import load_config
from thresher.construction import gc_paused, quick_construction
from thresher.io.read import InputFile
from thresher.pipeline import build_pipeline

_SEEN = userstate.BagStateSpec("seen", beam.coders.StrUtf8Coder())
_FLUSH = userstate.TimerSpec("flush", TimeDomain.WATERMARK)
# Beam reads state and timers from parameter defaults; module-level, as ruff's B008 asks
_SEEN_PARAM = beam.DoFn.StateParam(_SEEN)
_FLUSH_PARAM = beam.DoFn.TimerParam(_FLUSH)


class _StatefulFn(beam.DoFn):
    def process(self, element, seen=_SEEN_PARAM, flush=_FLUSH_PARAM):
        seen.add(element[1])
        yield element

    @userstate.on_timer(_FLUSH)
    def on_flush(self, seen=_SEEN_PARAM):
        yield from seen.read()


def _graph(tmp_path):
    cfg = load_config(REPO / "pipelines/default.yaml", [f"output.path={tmp_path}/out"])
    p = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    source = next((REPO / "sample_data" / "web").iterdir())
    build_pipeline(p, cfg, [InputFile(str(source), source.stat().st_size)], f"{tmp_path}/stage")
    (p | "Keyed" >> beam.Create([("k", "a"), ("k", "b")]) | "Stateful" >> beam.ParDo(_StatefulFn()))
    return p.to_runner_api()


def _shape(proto):
    """Everything in the proto but the pickled function bytes (which differ between any two
    builds: pickles are not byte-stable)."""
    transforms = {}
    for t in proto.components.transforms.values():
        payload = None
        if t.spec.urn == "beam:transform:pardo:v1":
            pardo = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
            pardo.do_fn.ClearField("payload")
            payload = pardo.SerializeToString(deterministic=True)
        transforms[t.unique_name] = (
            t.spec.urn,
            payload,
            sorted(t.inputs),
            sorted(t.outputs),
            len(t.subtransforms),
            t.environment_id,
        )
    pcolls = sorted(
        (pc.unique_name, pc.is_bounded, pc.windowing_strategy_id)
        for pc in proto.components.pcollections.values()
    )
    return transforms, pcolls, sorted(proto.components.coders), sorted(proto.root_transform_ids)


def test_the_graph_is_the_same_with_and_without(tmp_path):
    plain = _graph(tmp_path)
    with quick_construction():
        quick = _graph(tmp_path)
    assert _shape(quick) == _shape(plain)
    assert len(plain.components.transforms) > 300
    # the stateful ParDo's specs (what the get_dofn_specs memo answers) made it into the proto
    (pardo,) = (t for t in quick.components.transforms.values() if t.unique_name == "Stateful")
    stateful = beam_runner_api_pb2.ParDoPayload.FromString(pardo.spec.payload)
    assert set(stateful.state_specs) == {"seen"}
    assert set(stateful.timer_family_specs) == {"ts-flush"}


def test_views_share_the_options_and_differ_by_class():
    with quick_construction():
        opts = PipelineOptions(["--runner=FnApiRunner", "--experiments=a"])
        other = PipelineOptions(["--runner=Other"])
        std = opts.view_as(StandardOptions)
        assert opts.view_as(StandardOptions) is std  # memoized
        assert isinstance(opts.view_as(TypeOptions), TypeOptions)
        assert opts.view_as(DebugOptions).experiments == ["a"]
        std.runner = "Changed"
        assert opts.view_as(StandardOptions).runner == "Changed"
        assert std.view_as(StandardOptions).runner == "Changed"  # a view of a view
        assert other.view_as(StandardOptions).runner == "Other"
        opts.view_as(DebugOptions).add_experiment("b")
        assert opts.view_as(DebugOptions).experiments == ["a", "b"]
    # outside the block, fresh views again, over the same values
    assert opts.view_as(StandardOptions) is not opts.view_as(StandardOptions)
    assert opts.view_as(StandardOptions).runner == "Changed"


def _plain(a, b=1, *rest, c=2, **kw):
    return a


def _no_arguments():
    return None


def _wrapped(a, b=3):
    return a


@functools.wraps(_wrapped)
def _wrapper(*args, **kwargs):
    return _wrapped(*args, **kwargs)


class _Methods:
    def method(self, x, y=_SEEN_PARAM):
        return x

    def bare():  # no self: Beam's catch-all signature when bound
        return None

    half = functools.partialmethod(method, 1)


def _callables() -> list:
    methods = _Methods()
    fn = _StatefulFn()
    return [
        _plain,
        _no_arguments,
        _wrapper,
        lambda x, y=beam.DoFn.TimestampParam: x,
        methods.method,
        methods.bare,
        methods.half,
        _Methods.method,
        fn.process,
        fn.on_flush,
        fn.setup,
        beam.Map(len).fn.process,
        str.upper,
        len,
        functools.partial(_plain, 1),
    ]


def test_function_arguments_are_beams_own():
    beams = core.get_function_args_defaults
    plain = [beams(f) for f in _callables()]
    with quick_construction():
        assert core.get_function_args_defaults is not beams
        for _ in range(2):  # a miss, then a hit
            quick = [core.get_function_args_defaults(f) for f in _callables()]
            assert quick == plain
    assert core.get_function_args_defaults is beams
    assert plain[4] == (["x", "y"], [_SEEN_PARAM])  # bound: no self
    assert plain[7] == (["self", "x", "y"], [_SEEN_PARAM])
    assert plain[5][0] == ["_"]  # a method with no self gets the catch-all


def test_function_arguments_follow_a_changed_function_and_are_fresh_lists():
    def fn(a, b=1):
        return a

    with quick_construction():
        args, defaults = core.get_function_args_defaults(fn)
        args.append("mutated")
        defaults.clear()
        assert core.get_function_args_defaults(fn) == (["a", "b"], [1])
        fn.__defaults__ = (2,)
        assert core.get_function_args_defaults(fn) == (["a", "b"], [2])
        fn.__code__ = (lambda x, y, z=0: x).__code__
        fn.__defaults__ = (5,)
        assert core.get_function_args_defaults(fn) == (["x", "y", "z"], [5])
        fn.__wrapped__ = _wrapped  # now inspect follows the wrapper: so does the memo
        assert core.get_function_args_defaults(fn) == (["a", "b"], [3])
        gone = weakref.ref(fn)
        del fn
        gc.collect()
        assert gone() is None  # the memo holds functions weakly


def test_beams_functions_are_back_after_the_outermost_block():
    view_as, get_specs = PipelineOptions.view_as, userstate.get_dofn_specs
    with quick_construction():
        with quick_construction():  # a batch inside a batched run
            assert PipelineOptions.view_as is not view_as
        assert PipelineOptions.view_as is not view_as  # still the outer block's
        assert userstate.get_dofn_specs is not get_specs
        fn = _StatefulFn()
        specs = userstate.get_dofn_specs(fn)
        assert userstate.get_dofn_specs(fn) is specs
        assert {s.name for s in specs[0]} == {"seen"} and {t.name for t in specs[1]} == {"ts-flush"}
    assert PipelineOptions.view_as is view_as
    assert userstate.get_dofn_specs is get_specs
    with pytest.raises(KeyError), quick_construction():
        raise KeyError("inside")
    assert PipelineOptions.view_as is view_as


def test_a_dofn_is_not_kept_alive_by_the_memo():
    # a batched run builds a pipeline per batch inside one block: DoFns (and whatever their
    # setup() loaded) must go with their pipeline
    with quick_construction():
        fn = _StatefulFn()
        userstate.get_dofn_specs(fn)
        gone = weakref.ref(fn)
        del fn
        gc.collect()
        assert gone() is None
        again = _StatefulFn()  # may reuse the id: the memo must not answer for the old one
        assert {s.name for s in userstate.get_dofn_specs(again)[0]} == {"seen"}


def test_gc_paused_turns_the_collector_off_and_back_as_it_was():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # the launcher's build inside its run
            assert not gc.isenabled()
        assert not gc.isenabled()  # still the outer block's
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before the block, off after it
    finally:
        gc.enable()


def test_without_pandas_skips_pandas_only_while_beam_first_loads():
    """In a fresh process the block imports Beam and builds a pyarrow table with pandas
    hidden: pandas is not loaded, imports normally afterwards, and a pipeline still runs;
    where pandas is loaded already the block changes nothing."""
    probe = (
        "import json, sys; from thresher.construction import without_pandas\n"
        "with without_pandas():\n"
        "    import apache_beam as beam\n"
        "    from apache_beam.testing.util import assert_that, equal_to\n"
        "    import pyarrow as pa\n"
        "    assert pa.Table.from_pylist([{'a': 1}]).num_rows == 1\n"  # pyarrow looks for pandas
        "hidden = 'pandas' not in sys.modules\n"
        "with beam.Pipeline('FnApiRunner') as p:\n"
        "    assert_that(p | beam.Create([1, 2]) | beam.Map(lambda x: x * 2), equal_to([2, 4]))\n"
        "import pandas\n"
        "print(json.dumps([hidden, pandas.__name__, 'pandas' in sys.modules]))"
    )
    loaded_first = (
        "import json, sys, pandas; from thresher.construction import without_pandas\n"
        "with without_pandas():\n"
        "    import apache_beam\n"
        "print(json.dumps(sys.modules['pandas'] is pandas))"
    )
    hidden, kept = fresh_python(probe, loaded_first)
    assert hidden == [True, "pandas", True]
    assert kept is True


def test_inside_prompt_bundles_samplers_sample_often_and_operations_build_in_place():
    import concurrent.futures
    import threading

    from apache_beam.runners.worker import bundle_processor, statesampler
    from apache_beam.utils.counters import CounterFactory

    from thresher.construction import SAMPLING_PERIOD_MS, prompt_bundles

    def period() -> int:
        return statesampler.StateSampler("step", CounterFactory()).sampling_period_ms

    beams = period()
    assert beams == statesampler.DEFAULT_SAMPLING_PERIOD_MS != SAMPLING_PERIOD_MS
    with prompt_bundles():
        with prompt_bundles():  # a batch inside a batched run
            assert period() == SAMPLING_PERIOD_MS
        assert period() == SAMPLING_PERIOD_MS  # still the outer block's
        sampler = statesampler.StateSampler("step", CounterFactory())
        sampler.start()  # it samples and stops as Beam's does
        with sampler.scoped_state("step", "process"):
            pass
        sampler.stop()
        assert sampler.finished
        # bundle processors build their operations in the calling thread
        executor = bundle_processor.concurrent.futures.ThreadPoolExecutor(max_workers=1)
        with executor as inline:
            assert inline.submit(threading.get_ident).result() == threading.get_ident()
            with pytest.raises(ZeroDivisionError):
                inline.submit(lambda: 1 / 0).result()
    assert period() == beams
    assert bundle_processor.concurrent is concurrent
    with pytest.raises(KeyError), prompt_bundles():
        raise KeyError("inside")
    assert period() == beams
