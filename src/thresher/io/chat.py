"""Conversations and instruction pairs: one parsed record to its turns, or a ``RecordError``.

No Beam here (like ``thresher.io.formats``): plain functions over a parsed record (a mapping),
unit-testable alone. ``chat_turns`` reads a list of turns (OpenAI / TRL ``messages``, ShareGPT
``conversations`` with a role mapping); ``instruction_turns`` builds the same form from an
instruction pair (Alpaca, prompt/completion): an optional system turn, one user turn, one
assistant turn.

Validation is structural: a record these functions reject is a dead letter, with its own
``error_type`` and a message that names fields, turn indexes, types and sizes, never a value
(a role name can be a person's name, so unknown roles are not quoted either). A conversation
that is well formed but has nothing to train on (no assistant turn, only empty assistant turns)
is *not* rejected here: it is a record, and the chat filters drop it with a reason.

Example::

    >>> chat_turns({"messages": [{"role": "user", "content": "hi"}]}, ChatMapping(), 1000)
    (Turn(role='user', content='hi'),)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thresher.errors import RecordError
from thresher.records import ROLES, Turn

CANONICAL = frozenset(ROLES)


@dataclass(frozen=True)
class ChatMapping:
    """Where a conversation's turns are in a record (``input.chat``), free of pydantic.

    ``roles``: (source name, canonical role) pairs; the canonical names always map to
    themselves, whatever ``roles`` says."""

    messages_field: str = "messages"
    role_key: str = "role"
    content_key: str = "content"
    roles: tuple[tuple[str, str], ...] = ()

    def role_table(self) -> dict[str, str]:
        table = dict(self.roles)
        table.update((r, r) for r in ROLES)
        return table


@dataclass(frozen=True)
class InstructionMapping:
    """Where an instruction pair's parts are in a record (``input.instruction``)."""

    prompt_fields: tuple[str, ...] = ("instruction", "input")
    response_field: str = "output"
    system_field: str | None = None

    def fields(self) -> frozenset[str]:
        """The record fields the turns are built from (not copied to ``meta``)."""
        extra = () if self.system_field is None else (self.system_field,)
        return frozenset((*self.prompt_fields, self.response_field, *extra))


def type_name(value: Any) -> str:
    """A JSON-ish type name for messages (``object``, ``array``, ``null``, ``str``...)."""
    return {dict: "object", list: "array", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _size(turns: tuple[Turn, ...]) -> int:
    return sum(len(t.content.encode("utf-8", "surrogatepass")) for t in turns)


def _check_size(turns: tuple[Turn, ...], max_bytes: int) -> tuple[Turn, ...]:
    size = _size(turns)
    if size > max_bytes:
        raise RecordError(
            "document_too_large",
            f"turn contents are {size} bytes; input.max_document_bytes is {max_bytes}",
        )
    return turns


def _list_fields(obj: Mapping[str, Any]) -> str:
    names = sorted(k[:40] for k, v in obj.items() if isinstance(k, str) and isinstance(v, list))
    return f"; list fields present: {', '.join(names[:5])}" if names else ""


def _messages(obj: Mapping[str, Any], mf: str) -> list[Any]:
    value = obj.get(mf)
    if value is None:
        what = "null" if mf in obj else "missing"
        raise RecordError(
            "missing_messages",
            f"field '{mf}' is {what} (input.chat.messages_field)" + _list_fields(obj),
        )
    if not isinstance(value, list):
        raise RecordError(
            "invalid_messages_type", f"field '{mf}' is {type_name(value)}, expected array of turns"
        )
    if not value:
        raise RecordError("empty_messages", f"field '{mf}' is an empty array")
    return value


def _role(turn: Mapping[str, Any], i: int, m: ChatMapping, table: dict[str, str]) -> str:
    raw = turn.get(m.role_key)
    if raw is None:
        raise RecordError("missing_role", f"turn {i} has no '{m.role_key}' (input.chat.role_key)")
    if not isinstance(raw, str):
        raise RecordError(
            "invalid_role_type", f"turn {i} '{m.role_key}' is {type_name(raw)}, expected string"
        )
    role = table.get(raw)
    if role is None:
        # not quoted: a role can be a speaker's name
        raise RecordError(
            "unknown_role",
            f"unknown role at turn {i}: not one of {', '.join(ROLES)} "
            "(input.chat.roles maps source roles to these)",
        )
    return role


def _content(turn: Mapping[str, Any], i: int, key: str) -> str:
    if key not in turn:
        raise RecordError("missing_content", f"turn {i} has no '{key}' (input.chat.content_key)")
    value = turn[key]
    if isinstance(value, str):
        return value
    if value is None:
        raise RecordError("null_content", f"turn {i} '{key}' is null")
    if isinstance(value, list):
        raise RecordError(
            "unsupported_content",
            f"turn {i} '{key}' is an array of content parts (multimodal); only string "
            "content is supported",
        )
    raise RecordError(
        "invalid_content_type", f"turn {i} '{key}' is {type_name(value)}, expected string"
    )


def chat_turns(obj: Mapping[str, Any], m: ChatMapping, max_bytes: int) -> tuple[Turn, ...]:
    """The turns of a conversation record, roles mapped to canonical ones.

    Raises ``RecordError`` with one of: ``missing_messages``, ``invalid_messages_type``,
    ``empty_messages``, ``invalid_turn``, ``missing_role``, ``invalid_role_type``,
    ``unknown_role``, ``missing_content``, ``null_content``, ``unsupported_content``,
    ``invalid_content_type``, ``misplaced_system``, ``document_too_large`` (the contents
    together over ``max_bytes``). The first problem in turn order is reported.
    """
    table = m.role_table()
    turns = []
    for i, turn in enumerate(_messages(obj, m.messages_field)):
        if not isinstance(turn, dict):
            raise RecordError("invalid_turn", f"turn {i} is {type_name(turn)}, expected object")
        role = _role(turn, i, m, table)
        if role == "system" and i > 0:
            raise RecordError(
                "misplaced_system", f"turn {i} is a system turn; only turn 0 may be system"
            )
        turns.append(Turn(role, _content(turn, i, m.content_key)))
    return _check_size(tuple(turns), max_bytes)


def _optional_text(obj: Mapping[str, Any], name: str, error_type: str) -> str | None:
    value = obj.get(name)
    if value is None or isinstance(value, str):
        return value
    raise RecordError(error_type, f"field '{name}' is {type_name(value)}, expected string")


def _prompt(obj: Mapping[str, Any], m: InstructionMapping) -> str:
    if not any(obj.get(f) is not None for f in m.prompt_fields):
        raise RecordError(
            "missing_prompt",
            f"none of the prompt fields ({', '.join(m.prompt_fields)}) is present "
            "(input.instruction.prompt_fields)",
        )
    parts = []
    for name in m.prompt_fields:
        value = _optional_text(obj, name, "invalid_prompt_type")
        if value is not None and value.strip():
            parts.append(value)
    if not parts:
        raise RecordError(
            "empty_prompt", f"the prompt fields ({', '.join(m.prompt_fields)}) are all empty"
        )
    return "\n\n".join(parts)


def instruction_turns(
    obj: Mapping[str, Any], m: InstructionMapping, max_bytes: int
) -> tuple[Turn, ...]:
    """An instruction pair as turns: ``system`` (when ``system_field`` is set and holds a
    non-empty string), ``user`` (the non-empty prompt fields, blank-line joined), ``assistant``
    (``response_field``, kept even when empty: the chat filters drop it as
    ``empty_response``). A prompt field that is absent or null counts as empty.

    Raises ``RecordError`` with one of: ``missing_prompt`` (no prompt field present),
    ``invalid_prompt_type``, ``empty_prompt``, ``missing_response`` (absent or null),
    ``invalid_response_type``, ``invalid_system_type``, ``document_too_large``.
    """
    turns = []
    if m.system_field is not None:
        system = _optional_text(obj, m.system_field, "invalid_system_type")
        if system is not None and system.strip():
            turns.append(Turn("system", system))
    turns.append(Turn("user", _prompt(obj, m)))
    response = _optional_text(obj, m.response_field, "invalid_response_type")
    if response is None:
        raise RecordError(
            "missing_response",
            f"field '{m.response_field}' is missing or null (input.instruction.response_field)",
        )
    turns.append(Turn("assistant", response))
    return _check_size(tuple(turns), max_bytes)
