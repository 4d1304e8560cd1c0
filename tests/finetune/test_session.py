"""The training session: checkpoints, RNG state and ledger writes, on real Opacus (CPU, tiny).

Each session is wired the way ``runner.finetune`` wires it: task, model directory, plan,
session."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
transformers = pytest.importorskip("transformers")

from tests.finetune.finetune_fixtures import make_output  # noqa: E402
from thresher.config import FinetuneConfig  # noqa: E402
from thresher.finetune.ledger import read_ledger  # noqa: E402
from thresher.finetune.model_dir import (  # noqa: E402
    Checkpoint,
    ModelDir,
    RunIdentity,
    run_fingerprint,
)
from thresher.finetune.privacy import PrivacyPlan  # noqa: E402
from thresher.finetune.session import (  # noqa: E402
    SEEDED_NOISE,
    Generators,
    TrainingSession,
)
from thresher.finetune.task import build, load_task  # noqa: E402

CPU = torch.device("cpu")
SETTINGS = {
    "max_length": 32,
    "epochs": 1,
    "batch_size": 16,
    "tokenizer_min_units": 2,
    "accountant": "rdp",
    "checkpoint_every": 2,
}


def _session(data, model_dir, **settings) -> TrainingSession:
    config = FinetuneConfig.model_validate({**SETTINGS, **settings})
    task = load_task(data, "tiny", config)
    out = ModelDir(model_dir)
    fingerprint = run_fingerprint(config, task.spec, task.corpus.manifest_sha256)
    resume = out.resume_point(overwrite=False, fingerprint=fingerprint)
    built = build(task, config, CPU, out.checkpoint_dir if resume else None)
    plan = PrivacyPlan.for_run(
        config,
        units=len(task.train_units),
        noise_multiplier=resume.noise_multiplier if resume else None,
    )
    return TrainingSession.open(
        task,
        built,
        plan,
        config,
        CPU,
        data_dir=data,
        model_dir=out,
        fingerprint=fingerprint,
        resume=resume,
        baseline=False,
    )


def _weights(session: TrainingSession) -> dict:
    return {k: v.clone() for k, v in session.built.model.state_dict().items()}


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def data(tmp_path):
    return make_output(tmp_path / "out")


def test_checkpoint_round_trip_restores_model_optimizer_and_generators(data, tmp_path):
    first = _session(data, tmp_path / "m")
    progress = first.train(stop_after=3)
    assert (progress.start, progress.steps) == (0, 3)
    assert progress.throughput()["examples"] == progress.examples > 0

    saved = ModelDir(tmp_path / "m").resume_point(
        overwrite=False, fingerprint=first.identity.fingerprint
    )
    assert saved is not None
    assert (saved.identity, saved.step) == (first.identity, 3)
    assert saved.noise_multiplier == first.plan.noise_multiplier
    assert set(saved.rng) == {"sample_gen", "noise_gen", "torch_rng"}
    assert _same_tensors(saved.trainer["model"], first.built.model.state_dict())

    second = _session(data, tmp_path / "m")
    assert (second.identity, second.start_step, second.resumed_from) == (first.identity, 3, 3)
    assert _same_tensors(_weights(second), _weights(first))
    assert torch.equal(torch.get_rng_state(), saved.rng["torch_rng"])
    for name in ("sample", "noise"):
        a, b = getattr(first.generators, name), getattr(second.generators, name)
        assert torch.equal(a.get_state(), b.get_state()), name
    moments = first.trainer.optimizer.state_dict()["state"]
    restored = second.trainer.optimizer.state_dict()["state"]
    assert moments.keys() == restored.keys() and moments
    for index, slots in moments.items():
        assert _same_tensors(slots, restored[index]), index
    # and so the next step, on the same draw and noise, gives the same weights
    first.step()
    second.step()
    assert _same_tensors(_weights(second), _weights(first))


def test_restored_generators_replay_the_same_draws():
    gens = Generators.create(seed=7, secure=False, device=CPU)
    state = gens.state()
    draws = (torch.rand(4, generator=gens.sample), torch.randn(4, generator=gens.noise))
    assert not torch.equal(draws[0], torch.rand(4, generator=gens.sample))
    gens.restore(state)
    assert torch.equal(draws[0], torch.rand(4, generator=gens.sample))
    assert torch.equal(draws[1], torch.randn(4, generator=gens.noise))
    twin = Generators.create(seed=7, secure=False, device=CPU)
    assert torch.equal(draws[0], torch.rand(4, generator=twin.sample))
    assert gens.description == SEEDED_NOISE


def test_secure_generators_have_no_state_to_write():
    gens = Generators.create(seed=7, secure=True, device=CPU)
    assert gens.state() == {}
    assert "urandom" in gens.description or "torchcsprng" in gens.description
    other = Generators.create(seed=7, secure=True, device=CPU)
    # from OS entropy, not the seed
    assert not torch.equal(
        torch.rand(8, generator=gens.sample), torch.rand(8, generator=other.sample)
    )


def test_ledger_is_charged_per_window_before_the_steps(data, tmp_path):
    session = _session(data, tmp_path / "m")
    (opened,) = read_ledger(data)
    assert (opened["status"], opened["epsilon"], opened["steps"]) == ("running", 0.0, 0)
    session.train(stop_after=3)
    (entry,) = read_ledger(data)
    # windows of 2: charged to 4 before steps 3-4, the checkpoint holds 3
    assert (entry["status"], entry["steps"], entry["steps_completed"]) == ("running", 4, 3)
    assert entry["epsilon"] == session.plan.epsilon_after(4)
    assert entry["noise_rng"] == SEEDED_NOISE
    assert entry["run_id"] == session.identity.run_id
    (entry,) = session.mark_interrupted()
    assert entry["status"] == "interrupted" and entry["steps"] == 4


def test_ctrl_c_marks_the_entry_interrupted_and_propagates(data, tmp_path):
    session = _session(data, tmp_path / "m")
    draw = session.sampler.sample
    calls = []

    def sample_then_interrupt():
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return draw()

    session.sampler.sample = sample_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        session.train()
    (entry,) = read_ledger(data)
    assert entry["status"] == "interrupted"
    assert (entry["steps"], entry["steps_completed"]) == (2, 0)  # window paid, never saved
    assert not (tmp_path / "m" / "checkpoint").exists()


def test_finish_saves_the_model_and_completes_the_entry(data, tmp_path):
    session = _session(data, tmp_path / "m", epochs=1)
    progress = session.train()
    assert progress.steps == session.plan.steps
    (entry,) = session.finish(progress.steps)
    assert entry["status"] == "completed"
    assert entry["steps"] == entry["steps_completed"] == session.plan.steps
    assert entry["epsilon"] == session.plan.epsilon_planned
    assert "finished" in entry
    trained = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "m"))
    mine = dict(session.built.model.named_parameters())
    for name, param in trained.named_parameters():
        assert torch.equal(param, mine[name]), name


def test_checkpoint_state_round_trips_through_the_file_format():
    checkpoint = Checkpoint(
        identity=RunIdentity(run_id="r1", fingerprint="f1", started="2026-01-01T00:00:00+00:00"),
        step=3,
        noise_multiplier=0.7,
        trainer={"model": {}, "optimizer": {}},
        rng={"sample_gen": b"s", "noise_gen": b"n", "torch_rng": b"t"},
    )
    state = checkpoint.to_state()
    assert list(state) == [
        "run_id",
        "fingerprint",
        "started",
        "step",
        "noise_multiplier",
        "trainer",
        "sample_gen",
        "noise_gen",
        "torch_rng",
    ]
    assert Checkpoint.from_state(state) == checkpoint
    secure = Checkpoint(checkpoint.identity, 3, 0.7, {}, rng={})
    assert not {"sample_gen", "noise_gen", "torch_rng", "cuda_rng"} & set(secure.to_state())
