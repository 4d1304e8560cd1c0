"""DP fine-tuning with real Opacus, real transformers and real Parquet: small, CPU only."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

opacus = pytest.importorskip("opacus")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.finetune.finetune_fixtures import make_output  # noqa: E402
from thresher.config import FinetuneConfig  # noqa: E402
from thresher.errors import ConfigError, OutputError  # noqa: E402
from thresher.finetune import finetune, models, train  # noqa: E402
from thresher.finetune.ledger import read_ledger  # noqa: E402
from thresher.finetune.model_dir import REPORT  # noqa: E402
from thresher.finetune.privacy import default_delta  # noqa: E402

# RDP in the API runs: PRV's upper bound takes ~0.4 s per evaluation; the CLI run keeps PRV.
TINY = {
    "max_length": 32,
    "epochs": 1,
    "batch_size": 16,
    "tokenizer_min_units": 2,
    "accountant": "rdp",
}


def _config(**kw) -> FinetuneConfig:
    return FinetuneConfig.model_validate({**TINY, **kw})


# --- accounting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accountant", "target", "rate", "steps"),
    [("prv", 3.0, 0.05, 60), ("rdp", 3.0, 0.05, 60), ("rdp", 8.0, 0.2, 10)],
)
def test_noise_for_a_target_never_overshoots(accountant, target, rate, steps):
    sigma = train.noise_for(target, 1e-5, rate, steps, accountant)
    spent = train.epsilon_for(sigma, rate, steps, 1e-5, accountant)
    assert target - 0.05 <= spent <= target
    assert train.epsilon_for(sigma * 0.8, rate, steps, 1e-5, accountant) > target


@pytest.mark.parametrize(("units", "delta"), [(10, 1e-5), (50_000, 1e-5), (10**6, 5e-7)])
def test_default_delta_is_at_most_one_over_2n(units, delta):
    assert default_delta(units) == pytest.approx(delta)
    assert default_delta(units) <= 1 / (2 * units)


# --- clipping and user-level gradients on the real Opacus grad_sample ----------------------


@pytest.fixture(scope="module")
def tiny_model():
    texts = [(f"u{i % 5}", f"the cat sat on mat number {i} and ran") for i in range(40)]
    tokenizer = models.train_tokenizer(texts, vocab_size=300, min_units=2)
    examples = train.encode(
        [(i % 5, t, None) for i, (_, t) in enumerate(texts)], tokenizer, "causal-lm", 32
    )
    return tokenizer, examples


def _fresh(tokenizer):
    torch.manual_seed(0)
    return models.build_tiny(tokenizer, max_length=32)


def _trainer(model, tokenizer, examples, clip, sigma=0.0):
    return train.DPTrainer(
        model,
        "causal-lm",
        examples,
        learning_rate=1e-3,
        noise_multiplier=sigma,
        max_grad_norm=clip,
        expected_batch_size=4.0,
        physical_batch_size=3,
        pad_id=tokenizer.pad_token_id,
        device=torch.device("cpu"),
        noise_generator=torch.Generator().manual_seed(0),
        secure_mode=False,
    )


def _row_norms(params):
    flat = torch.cat([p.grad_sample.reshape(len(p.grad_sample), -1) for p in params], dim=1)
    return flat.norm(dim=1)


def test_clipping_bounds_every_unit_contribution(tiny_model):
    tokenizer, examples = tiny_model
    model = _fresh(tokenizer)
    clip = 0.05
    trainer = _trainer(model, tokenizer, examples, clip)
    for unit in range(5):
        members = [i for i, ex in enumerate(examples) if ex.unit == unit]
        trainer.accumulate(members, [0] * len(members))
        assert _row_norms(trainer.params)[0] > clip  # the bound has work to do
        trainer.optimizer.clip_and_accumulate()
        clipped = torch.cat([p.summed_grad.flatten() for p in trainer.params])
        assert clipped.norm() <= clip * (1 + 1e-4)
    # several units in one step: each row is clipped on its own, so the sum is <= units * C
    trainer.accumulate(list(range(len(examples))), [ex.unit for ex in examples])
    norms = _row_norms(trainer.params)
    assert len(norms) == 5 and bool((norms > clip).all())
    trainer.optimizer.clip_and_accumulate()
    total = torch.cat([p.summed_grad.flatten() for p in trainer.params]).norm()
    assert total <= 5 * clip * (1 + 1e-4)


def test_user_rows_are_the_mean_of_that_users_example_gradients(tiny_model):
    tokenizer, examples = tiny_model
    model = _fresh(tokenizer)
    trainer = _trainer(model, tokenizer, examples, clip=1.0)
    picked = [0, 1, 5, 6, 10, 2]  # units 0,1,0,1,0,2 -> three users in this step
    owner = {0: 0, 1: 1, 2: 2}
    trainer.accumulate(picked, [owner[examples[i].unit] for i in picked])
    rows = {n: p.grad_sample.clone() for n, p in model.named_parameters() if p.requires_grad}
    assert {r.shape[0] for r in rows.values()} == {3}
    # reference: plain autograd on the user's examples, no Opacus
    reference = models.build_tiny(tokenizer, max_length=32)
    reference.load_state_dict(model.state_dict())
    for user, unit in enumerate([0, 1, 2]):
        mine = [examples[i] for i in picked if examples[i].unit == unit]
        reference.zero_grad()
        loss, _, _ = train.per_example_loss(
            reference, "causal-lm", train.collate(mine, tokenizer.pad_token_id, "cpu")
        )
        loss.mean().backward()
        for name, p in reference.named_parameters():
            assert torch.allclose(rows[name][user], p.grad, atol=1e-5), name


def test_an_empty_draw_still_adds_noise(tiny_model):
    tokenizer, examples = tiny_model
    model = _fresh(tokenizer)
    trainer = _trainer(model, tokenizer, examples, clip=1.0, sigma=1.0)
    trainer.accumulate([], [])
    trainer.optimizer.pre_step()
    noise = torch.cat([p.grad.flatten() for p in trainer.params])
    assert noise.abs().sum() > 0  # pure noise, divided by the expected batch size


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_output(tmp_path_factory.mktemp("ft") / "out")


@pytest.fixture(scope="module")
def cli_run(dataset, tmp_path_factory):
    from tests.conftest import run_cli

    model_dir = tmp_path_factory.mktemp("ft") / "model"
    proc = run_cli(
        "finetune",
        str(dataset),
        "--model",
        "tiny",
        "--output",
        str(model_dir),
        "--epsilon",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-length",
        "32",
        "--baseline",
        "--checkpoint-every",
        "3",
    )
    return proc, model_dir


def test_cli_trains_tiny_causal_and_reports_both_evaluations(cli_run, dataset):
    proc, model_dir = cli_run
    assert proc.returncode == 0, proc.stderr
    assert "record-level DP" in proc.stdout and "non-private baseline" in proc.stdout
    report = json.loads((model_dir / REPORT).read_text())
    assert report["status"] == "completed"
    assert report["epsilon"] <= 8.0 and report["unit"] == "record"
    assert report["dp_metrics"]["metric"] == "perplexity"
    assert report["baseline_metrics"]["value"] < report["dp_metrics"]["value"] < 1e6
    assert not (model_dir / "checkpoint").exists()
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(str(model_dir))
    assert reloaded.config.n_layer == models.TINY_SHAPE["n_layer"]


def test_cli_run_appends_a_complete_ledger_entry(cli_run, dataset):
    proc, model_dir = cli_run
    assert proc.returncode == 0, proc.stderr
    entries = [e for e in read_ledger(dataset) if e["model_dir"] == str(model_dir.resolve())]
    assert len(entries) == 1
    entry = entries[0]
    needed = {
        "epsilon",
        "delta",
        "unit",
        "model",
        "noise_multiplier",
        "max_grad_norm",
        "sampling_rate",
        "steps",
        "accountant",
        "seed",
        "time",
        "dataset_manifest_sha256",
    }
    assert needed <= set(entry)
    assert entry["status"] == "completed"
    assert (
        entry["dataset_manifest_sha256"]
        == hashlib.sha256((dataset / "manifest.json").read_bytes()).hexdigest()
    )
    assert entry["steps"] == entry["steps_planned"] == entry["steps_completed"]
    assert entry["epsilon"] == pytest.approx(
        train.epsilon_for(
            entry["noise_multiplier"], entry["sampling_rate"], entry["steps"], entry["delta"], "prv"
        )
    )
    assert entry["epsilon"] <= 8.0
    assert entry["delta"] == default_delta(entry["units"])
    assert entry["sampling_rate"] == pytest.approx(16 / entry["units"])


def test_user_level_classifier_groups_by_the_named_field(tmp_path):
    data = make_output(tmp_path / "out", records=80, users=16)
    result = finetune(
        data_dir=data,
        model="minilm",
        output=tmp_path / "clf",
        config=_config(
            task="classification",
            label_field="label",
            unit_field="author",
            epsilon=3.0,
            batch_size=4,
            epochs=1,
            train_last_layers=0,
            learning_rate=5e-3,
            max_examples_per_unit=2,
        ),
    )
    assert result.status == "completed" and result.unit == "user"
    assert result.epsilon <= 3.0
    assert 0.0 <= result.dp_metrics["value"] <= 1.0
    assert result.dp_metrics["metric"] == "accuracy"
    (entry,) = read_ledger(data)
    held_out = {f"user{i}" for i in range(16)} - set()
    assert entry["unit"] == "user" and entry["unit_field"] == "author"
    assert 1 <= 16 - entry["units"] < 16  # units = distinct training authors, not records
    assert entry["units"] < len(held_out) * 5
    assert entry["sampling_rate"] == pytest.approx(4 / entry["units"])
    saved = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert set(saved["id2label"].values()) == {"neg", "pos"}


def test_resume_does_not_double_count(tmp_path):
    once = make_output(tmp_path / "once")
    twice = make_output(tmp_path / "twice")
    config = _config(checkpoint_every=2)
    full = finetune(data_dir=once, model="tiny", output=tmp_path / "m_once", config=config)

    part = finetune(
        data_dir=twice, model="tiny", output=tmp_path / "m_twice", config=config, stop_after=3
    )
    assert part.status == "interrupted" and part.steps == 3
    (entry,) = read_ledger(twice)
    assert entry["status"] == "interrupted"
    assert (entry["steps_completed"], entry["steps"]) == (3, 4)  # the window was pre-charged
    assert entry["epsilon"] == pytest.approx(
        train.epsilon_for(part.noise_multiplier, part.sampling_rate, 4, part.delta, "rdp")
    )

    rest = finetune(data_dir=twice, model="tiny", output=tmp_path / "m_twice", config=config)
    assert rest.run_id == part.run_id and rest.resumed_from == 3
    entries = read_ledger(twice)
    assert len(entries) == 1 and entries[0]["status"] == "completed"
    assert entries[0]["steps"] == full.steps == full.steps_planned
    assert entries[0]["epsilon"] == pytest.approx(full.epsilon)
    assert rest.epsilon == pytest.approx(full.epsilon) and full.epsilon <= 8.0
    # the same transcript: interrupted + resumed equals never interrupted
    a = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "m_once"))
    b = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "m_twice"))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    data = make_output(tmp_path / "out")
    finetune(
        data_dir=data,
        model="tiny",
        output=tmp_path / "m",
        config=_config(checkpoint_every=2),
        stop_after=1,
    )
    with pytest.raises(OutputError, match="checkpoint of a different run"):
        finetune(
            data_dir=data,
            model="tiny",
            output=tmp_path / "m",
            config=_config(checkpoint_every=2, seed=1),
        )
    assert len(read_ledger(data)) == 1


def test_budget_warning_and_bad_model_errors(tmp_path, dataset):
    from tests.conftest import run_cli

    data = tmp_path / "copy"
    shutil.copytree(dataset, data)
    proc = run_cli(
        "finetune",
        str(data),
        "--model",
        "tiny",
        "--output",
        str(tmp_path / "m"),
        "--noise-multiplier",
        "0.5",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--max-length",
        "32",
        "--epsilon-budget",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning: cumulative epsilon on this dataset would reach" in proc.stderr
    with pytest.raises(ConfigError, match="not a model directory"):
        finetune(data_dir=data, model=str(tmp_path), output=tmp_path / "m2", config=_config())
    with pytest.raises(ConfigError, match="causal language model"):
        finetune(
            data_dir=data,
            model="tiny",
            output=tmp_path / "m3",
            config=_config(task="classification", label_field="label"),
        )
    proc = run_cli(
        "finetune",
        str(data),
        "--model",
        "tiny",
        "--output",
        str(tmp_path / "m4"),
        "--unit-field",
        "customer",
    )
    assert proc.returncode == 2 and "no meta field 'customer'" in proc.stderr


def test_secure_mode_never_writes_rng_states(tmp_path):
    data = make_output(tmp_path / "out")
    result = finetune(
        data_dir=data,
        model="tiny",
        output=tmp_path / "m",
        config=_config(secure_mode=True, checkpoint_every=2),
        stop_after=2,
    )
    assert result.status == "interrupted"
    state = torch.load(tmp_path / "m" / "checkpoint" / "state.pt", weights_only=False)
    assert state["step"] == 2
    assert not {"sample_gen", "noise_gen", "torch_rng"} & set(state)
    (entry,) = read_ledger(data)
    assert entry["secure_mode"] is True
    assert "urandom" in entry["noise_rng"] or "torchcsprng" in entry["noise_rng"]


def test_a_local_gpt2_directory_with_tied_embeddings(tmp_path):
    data = make_output(tmp_path / "out")
    texts = [(f"u{i % 5}", f"the cat sat on mat number {i} and ran") for i in range(40)]
    tokenizer = models.train_tokenizer(texts, vocab_size=300, min_units=2)
    eos = tokenizer.eos_token_id
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    local = tmp_path / "gpt2-local"
    transformers.GPT2LMHeadModel(config).save_pretrained(str(local))
    tokenizer.save_pretrained(str(local))
    result = finetune(
        data_dir=data, model=str(local), output=tmp_path / "m", config=_config(epsilon=3.0)
    )
    assert result.status == "completed" and result.epsilon <= 3.0
    trained = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "m"))
    assert trained.lm_head.weight.data_ptr() == trained.transformer.wte.weight.data_ptr()
    assert read_ledger(data)[0]["model"]["path"] == str(local)


def test_missing_extra_exits_2_with_the_install_command(tmp_path, dataset):
    import os

    from tests.conftest import run_cli

    stub = tmp_path / "stub" / "opacus"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('simulated: not installed')\n")
    path = os.pathsep.join([str(stub.parent), os.environ.get("PYTHONPATH", "")])
    proc = run_cli(
        "finetune",
        str(dataset),
        "--model",
        "tiny",
        "--output",
        str(tmp_path / "m"),
        env={"PYTHONPATH": path},
    )
    assert proc.returncode == 2
    assert "pip install 'thresher[dp]'" in proc.stderr
    assert not (tmp_path / "m").exists()
