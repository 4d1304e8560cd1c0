"""Conversations for causal-lm fine-tuning: the chat template and the loss mask.

A conversation (a row with ``messages``) is rendered with a chat template and tokenized into
``ids`` and ``targets`` (one label per token): the token id where the model learns to predict
it, ``train.IGNORE_INDEX`` (-100) elsewhere. ``train_on="assistant"`` (the default, as TRL's
``assistant_only_loss``) trains on each assistant turn's content and the template's end of that
turn (so the model learns to stop) and on the final EOS after an assistant turn; system, user
and tool turns and every turn header are context only. ``train_on="all"`` trains on every token.

The template: the model's own ``tokenizer.chat_template`` when it has one (a local Hugging Face
model directory, rendered offline by ``apply_chat_template``); otherwise ``SIMPLE_TEMPLATE``,
``<|role|>`` + newline + content + newline per turn, set on the tokenizer so the saved model
carries it. The ``tiny`` model gets the four ``<|role|>`` markers as special tokens.

How turns are found in a template's output: the conversation cut after turn ``i`` is rendered,
and what it adds to the render of the turns before is turn ``i``'s text; the turn's content is
located inside it (header before, end-of-turn after). A template whose render of a prefix is
not a prefix of the whole is a ``ConfigError``. Each piece is tokenized on its own, so a token
never straddles a trained and an untrained piece. Deterministic; nothing here logs text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thresher.errors import ConfigError
from thresher.finetune.train import IGNORE_INDEX, Example
from thresher.records import ROLES, Turn

# Version 1 of thresher's own template; named in the run's report and ledger entry.
SIMPLE_TEMPLATE_NAME = "thresher-simple/1"
SIMPLE_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
ROLE_TOKENS = tuple(f"<|{role}|>" for role in ROLES)
TRAINED_ROLE = "assistant"


@dataclass(frozen=True)
class Piece:
    """A run of rendered text and whether its tokens are training targets."""

    text: str
    trained: bool


def use_template(tokenizer: Any, tiny: bool) -> str:
    """Give ``tokenizer`` its chat template: ``SIMPLE_TEMPLATE`` for the ``tiny`` model (its
    role markers become special tokens; the model's embeddings are sized after this; a resumed
    run's saved tokenizer has them already) and for a model without one; a model's own
    otherwise. Returns the template's name for report and ledger: ``model`` or
    ``SIMPLE_TEMPLATE_NAME``."""
    if not tiny and getattr(tokenizer, "chat_template", None):
        return "model"
    tokenizer.chat_template = SIMPLE_TEMPLATE
    if tiny:
        tokenizer.add_special_tokens({"additional_special_tokens": list(ROLE_TOKENS)})
    return SIMPLE_TEMPLATE_NAME


def _render(tokenizer: Any, turns: Sequence[Turn]) -> str:
    if not turns:
        return ""
    messages = [{"role": t.role, "content": t.content} for t in turns]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return str(text)


def _split_turn(segment: str, turn: Turn, trained: bool, all_tokens: bool) -> list[Piece]:
    """Header (context), content and end of turn (trained when the turn is)."""
    at = segment.find(turn.content) if turn.content else -1
    if at < 0:
        # an empty content, or a template that rewrites it (trims): the whole turn is one piece
        return [Piece(segment, trained)]
    end = at + len(turn.content)
    return [
        Piece(segment[:at], all_tokens),
        Piece(segment[at:end], trained),
        Piece(segment[end:], trained),
    ]


def pieces(tokenizer: Any, turns: Sequence[Turn], train_on: str) -> list[Piece]:
    """The rendered conversation cut into trained and untrained pieces, in order (empty
    pieces left out). Raises ``ConfigError`` when the template is not prefix-stable."""
    all_tokens = train_on == "all"
    out: list[Piece] = []
    before = ""
    for i, turn in enumerate(turns):
        upto = _render(tokenizer, turns[: i + 1])
        if not upto.startswith(before):
            raise ConfigError(
                "the model's chat_template renders a conversation's first turns differently "
                "from the whole conversation, so its turns cannot be located; use a model "
                "whose template renders the turns one after another"
            )
        trained = all_tokens or turn.role == TRAINED_ROLE
        out += _split_turn(upto[len(before) :], turn, trained, all_tokens)
        before = upto
    return [p for p in out if p.text]


def tokenize(tokenizer: Any, turns: Sequence[Turn], train_on: str) -> tuple[list[int], list[int]]:
    """(ids, targets) of one conversation followed by EOS; the EOS is a target when the last
    turn is trained (an assistant turn, or ``train_on="all"``)."""
    ids: list[int] = []
    targets: list[int] = []
    for piece in pieces(tokenizer, turns, train_on):
        piece_ids = tokenizer(piece.text, add_special_tokens=False)["input_ids"]
        ids += piece_ids
        targets += piece_ids if piece.trained else [IGNORE_INDEX] * len(piece_ids)
    last_trained = train_on == "all" or (bool(turns) and turns[-1].role == TRAINED_ROLE)
    ids.append(tokenizer.eos_token_id)
    targets.append(tokenizer.eos_token_id if last_trained else IGNORE_INDEX)
    return ids, targets


def _windows(unit: int, ids: list[int], targets: list[int], max_length: int) -> list[Example]:
    """Windows of ``max_length`` tokens; a window with no target after its first token (the
    first is never predicted) carries nothing to learn and is skipped."""
    out = []
    for start in range(0, len(ids), max_length):
        window = targets[start : start + max_length]
        if any(t != IGNORE_INDEX for t in window[1:]):
            out.append(Example(unit, tuple(ids[start : start + max_length]), None, tuple(window)))
    return out


def encode(
    rows: Sequence[tuple[int, str, Sequence[Turn]]],
    tokenizer: Any,
    max_length: int,
    train_on: str,
) -> list[Example]:
    """``(unit, text, turns)`` to causal-lm examples, in order: a conversation (``turns``
    non-empty) through the template with its targets; a document (no turns) as
    ``train.encode`` does it (text + EOS in windows, every token a target)."""
    out: list[Example] = []
    for unit, text, turns in rows:
        if turns:
            ids, targets = tokenize(tokenizer, turns, train_on)
        else:
            ids = [*tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
            targets = ids
        out += _windows(unit, ids, targets, max_length)
    return out
