"""Fine-tuning on conversations: chat template, assistant-only loss mask, DP run and ledger.

Real tokenizers, real transformers chat templates, real Opacus; small and CPU only."""

from __future__ import annotations

import json

import pytest

opacus = pytest.importorskip("opacus")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.finetune.finetune_fixtures import make_chat_output  # noqa: E402
from thresher.config import FinetuneConfig  # noqa: E402
from thresher.errors import ConfigError  # noqa: E402
from thresher.finetune import chat, finetune, models, train  # noqa: E402
from thresher.finetune.ledger import read_ledger  # noqa: E402
from thresher.finetune.model_dir import REPORT  # noqa: E402
from thresher.records import Turn  # noqa: E402

IGNORE = train.IGNORE_INDEX
CONVERSATION = (
    Turn("system", "be brief"),
    Turn("user", "where is the cat?"),
    Turn("assistant", "the cat sat on the mat"),
    Turn("user", "and the dog?"),
    Turn("assistant", "the dog ran to the park"),
)
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
)


@pytest.fixture(scope="module")
def base_tokenizer():
    texts = [(f"u{i % 4}", " ".join(t.content for t in CONVERSATION)) for i in range(8)]
    return models.train_tokenizer(texts, vocab_size=300, min_units=2)


@pytest.fixture
def tiny_tokenizer(base_tokenizer):
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=base_tokenizer.backend_tokenizer.__class__.from_str(
            base_tokenizer.backend_tokenizer.to_str()
        ),
        eos_token=models.EOS,
        pad_token=models.EOS,
    )
    assert chat.use_template(tok, tiny=True) == chat.SIMPLE_TEMPLATE_NAME
    return tok


def _decode(tok, ids):
    return tok.decode(ids, skip_special_tokens=False)


def _split(ids, targets):
    trained = [i for i, t in zip(ids, targets, strict=True) if t != IGNORE]
    context = [i for i, t in zip(ids, targets, strict=True) if t == IGNORE]
    return trained, context


def test_assistant_mask_is_exactly_the_assistant_turns(tiny_tokenizer):
    tok = tiny_tokenizer
    ids, targets = chat.tokenize(tok, CONVERSATION, "assistant")
    assert len(ids) == len(targets)
    # a trained position's label is its own token id (the Hugging Face convention)
    assert all(t in (IGNORE, i) for i, t in zip(ids, targets, strict=True))
    trained, context = _split(ids, targets)
    # trained: each assistant content and its end of turn, then EOS; nothing else
    assert _decode(tok, trained) == "the cat sat on the mat\nthe dog ran to the park\n" + models.EOS
    assert _decode(tok, context) == (
        "<|system|>\nbe brief\n<|user|>\nwhere is the cat?\n<|assistant|>\n"
        "<|user|>\nand the dog?\n<|assistant|>\n"
    )
    # the role markers are one special token each in the tiny tokenizer
    for marker in chat.ROLE_TOKENS:
        assert len(tok(marker, add_special_tokens=False)["input_ids"]) == 1
    # the whole sequence is the template's render followed by EOS
    rendered = tok.apply_chat_template(
        [{"role": t.role, "content": t.content} for t in CONVERSATION], tokenize=False
    )
    assert _decode(tok, ids) == rendered + models.EOS
    # the mask as positions: every token of a non-assistant piece is -100, and only those
    first_answer = tok("the cat sat on the mat", add_special_tokens=False)["input_ids"]
    header = tok("<|system|>\nbe brief\n<|user|>\nwhere is the cat?\n<|assistant|>\n",
                 add_special_tokens=False)["input_ids"]  # fmt: skip
    assert targets[: len(header)] == [IGNORE] * len(header)
    assert targets[len(header) : len(header) + len(first_answer)] == first_answer


def test_train_on_all_trains_every_token(tiny_tokenizer):
    ids, targets = chat.tokenize(tiny_tokenizer, CONVERSATION, "all")
    assert targets == ids
    assert ids == chat.tokenize(tiny_tokenizer, CONVERSATION, "assistant")[0]


def test_a_conversation_ending_on_a_user_turn_does_not_train_its_eos(tiny_tokenizer):
    ids, targets = chat.tokenize(tiny_tokenizer, CONVERSATION[:4], "assistant")
    assert ids[-1] == tiny_tokenizer.eos_token_id and targets[-1] == IGNORE
    trained, _ = _split(ids, targets)
    assert _decode(tiny_tokenizer, trained) == "the cat sat on the mat\n"


def test_a_models_own_chat_template_is_used_and_masked(tiny_tokenizer):
    tok = tiny_tokenizer
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML
    assert chat.use_template(tok, tiny=False) == "model"
    ids, targets = chat.tokenize(tok, CONVERSATION[:3], "assistant")
    trained, context = _split(ids, targets)
    assert _decode(tok, trained) == "the cat sat on the mat<|im_end|>\n" + models.EOS
    assert _decode(tok, context) == (
        "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nwhere is the cat?"
        "<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_template_that_is_not_prefix_stable_is_a_config_error(tiny_tokenizer):
    tiny_tokenizer.chat_template = "{{ messages | length }}" + chat.SIMPLE_TEMPLATE
    with pytest.raises(ConfigError, match="chat_template"):
        chat.tokenize(tiny_tokenizer, CONVERSATION, "assistant")


def test_the_loss_counts_only_the_trained_tokens(tiny_tokenizer):
    examples = chat.encode([(0, "", CONVERSATION)], tiny_tokenizer, 64, "assistant")
    (example,) = examples
    torch.manual_seed(0)
    model = models.build_tiny(tiny_tokenizer, max_length=64)
    batch = train.collate(examples, tiny_tokenizer.pad_token_id, torch.device("cpu"))
    with torch.no_grad():
        loss, tokens, logits = train.per_example_loss(model, "causal-lm", batch)
    targets = example.targets[1:]
    assert int(tokens[0]) == sum(1 for t in targets if t != IGNORE)
    # the same mean NLL by hand over the trained next-token targets only
    logp = torch.log_softmax(logits[0, :-1], dim=-1)
    picked = [-logp[i, t] for i, t in enumerate(targets) if t != IGNORE]
    assert float(loss[0]) == pytest.approx(float(torch.stack(picked).mean()), rel=1e-5)


def test_windows_without_a_trained_target_are_skipped(tiny_tokenizer):
    # windows of 8 tokens: the first window holds only system/user context
    examples = chat.encode([(3, "", CONVERSATION)], tiny_tokenizer, 8, "assistant")
    ids, targets = chat.tokenize(tiny_tokenizer, CONVERSATION, "assistant")
    kept = [w for w in range(0, len(ids), 8) if any(t != IGNORE for t in targets[w + 1 : w + 8])]
    assert [e.ids for e in examples] == [tuple(ids[w : w + 8]) for w in kept]
    assert len(kept) < len(range(0, len(ids), 8)) and all(e.unit == 3 for e in examples)


def test_documents_among_conversations_train_on_every_token(tiny_tokenizer):
    tok = tiny_tokenizer
    doc, conv = chat.encode([(0, "the cat sat", ()), (1, "", CONVERSATION)], tok, 64, "assistant")
    assert doc.ids == (*tok("the cat sat", add_special_tokens=False)["input_ids"], tok.eos_token_id)
    assert doc.targets == doc.ids and conv.unit == 1
    batch = train.collate([doc, conv], tok.pad_token_id, torch.device("cpu"))
    assert batch["targets"][0, : len(doc.ids)].tolist() == list(doc.ids)
    assert (batch["targets"][0, len(doc.ids) :] == IGNORE).all()  # padding: never a target
    assert batch["targets"][1].tolist() == list(conv.targets)


# --- a real DP run on a tiny chat dataset ----------------------------------------------------

SETTINGS = {
    "max_length": 48,
    "epochs": 1,
    "batch_size": 8,
    "tokenizer_min_units": 2,
    "accountant": "rdp",
    "unit_field": "author",
    "checkpoint_every": 4,
}


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    data = make_chat_output(tmp_path_factory.mktemp("chat") / "out")
    model_dir = tmp_path_factory.mktemp("chat") / "model"
    result = finetune(
        data_dir=data,
        model="tiny",
        output=model_dir,
        config=FinetuneConfig.model_validate(SETTINGS),
    )
    return data, model_dir, result


def test_dp_finetune_on_conversations_completes_at_the_user_level(chat_run):
    _, model_dir, result = chat_run
    assert result.status == "completed" and result.steps == result.steps_planned > 0
    assert result.unit == "user" and result.unit_field == "author"
    assert result.units == 9  # 10 authors, one held out
    assert 0 < result.epsilon <= 8.0
    report = json.loads((model_dir / REPORT).read_text())
    assert report["chat_template"] == chat.SIMPLE_TEMPLATE_NAME
    assert report["conversations"] == 60 and report["settings"]["train_on"] == "assistant"
    assert report["dp_metrics"]["metric"] == "perplexity"
    assert 1.0 < report["dp_metrics"]["value"] < 1e6
    # the saved model carries its template: it renders a conversation as it was trained
    saved = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    rendered = saved.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|user|>\nhi\n<|assistant|>\n"
    assert transformers.GPT2LMHeadModel.from_pretrained(str(model_dir)).config.vocab_size == len(
        saved
    )


def test_the_ledger_entry_of_a_chat_run(chat_run):
    data, model_dir, result = chat_run
    (entry,) = [e for e in read_ledger(data) if e["model_dir"] == str(model_dir.resolve())]
    assert entry["status"] == "completed"
    assert entry["unit"] == "user" and entry["unit_field"] == "author"
    assert entry["records"] == {"conversations": 60, "documents": 0}
    assert entry["train_on"] == "assistant"
    assert entry["chat_template"] == chat.SIMPLE_TEMPLATE_NAME
    assert entry["epsilon"] == pytest.approx(result.epsilon)
    assert entry["steps_completed"] == result.steps


def test_cli_train_on_all(tmp_path):
    from tests.conftest import run_cli

    data = make_chat_output(tmp_path / "out", records=40, users=8)
    model_dir = tmp_path / "model"
    proc = run_cli(
        "finetune",
        str(data),
        "--model",
        "tiny",
        "--output",
        str(model_dir),
        "--unit-field",
        "author",
        "--train-on",
        "all",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--max-length",
        "48",
        "--accountant",
        "rdp",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((model_dir / REPORT).read_text())
    assert report["settings"]["train_on"] == "all" and report["unit"] == "user"
    (entry,) = read_ledger(data)
    assert entry["train_on"] == "all" and entry["status"] == "completed"


def _local_gpt2(directory, chat_template):
    texts = [(f"u{i % 5}", " ".join(t.content for t in CONVERSATION)) for i in range(10)]
    tokenizer = models.train_tokenizer(texts, vocab_size=300, min_units=2)
    if chat_template:
        tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
        tokenizer.chat_template = chat_template
    eos = tokenizer.eos_token_id
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2,
        bos_token_id=eos, eos_token_id=eos,
    )  # fmt: skip
    transformers.GPT2LMHeadModel(config).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.mark.parametrize(
    ("template", "name"), [(CHATML, "model"), (None, chat.SIMPLE_TEMPLATE_NAME)]
)
def test_a_local_model_uses_its_own_chat_template_or_the_simple_one(tmp_path, template, name):
    data = make_chat_output(tmp_path / "out", records=30, users=6)
    local = _local_gpt2(tmp_path / "gpt2-local", template)
    settings = {**SETTINGS, "max_length": 64, "epsilon": 3.0}
    result = finetune(
        data_dir=data,
        model=str(local),
        output=tmp_path / "m",
        config=FinetuneConfig.model_validate(settings),
    )
    assert result.status == "completed" and result.epsilon <= 3.0
    (entry,) = read_ledger(data)
    assert entry["chat_template"] == name and entry["model"]["path"] == str(local)
    saved = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "m"))
    assert saved.chat_template == (template or chat.SIMPLE_TEMPLATE)
