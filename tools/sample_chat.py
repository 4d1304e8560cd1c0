"""``sample_data/chat/``: fine-tuning records in the three common layouts, with planted cases.

- ``chat/openai.jsonl``: OpenAI / TRL ``messages`` (``input.record: chat``), with ids;
- ``chat/sharegpt.json``: a ShareGPT JSON array (``conversations`` of ``from``/``value``);
- ``chat/alpaca.json``: an Alpaca JSON array (``instruction``/``input``/``output``, no ids).

Planted (the truth is written to ``_planted.json`` under ``chat``): conversations that differ
only in whitespace, one prompt with several answers, PII repeated across turns, a refusal, a
conversation over ``filters.chat.max_turns``, one without an answer and one with an empty answer,
and one bad record per validation reason. Seeded with its own generator so that the other sample
files keep their bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.corpus import document, sentence

SEED = 20261202
TOPICS = ("cooking", "cycling")

# The dead-letter reason each planted bad record must get (docs/reading-conversations.md).
ERRORS = {
    "not_a_list": "invalid_messages_type",
    "empty": "empty_messages",
    "turn_not_object": "invalid_turn",
    "unknown_role": "unknown_role",
    "content_missing": "missing_content",
    "content_null": "null_content",
    "content_not_string": "invalid_content_type",
    "multimodal": "unsupported_content",
    "system_not_first": "misplaced_system",
    "no_messages": "missing_messages",
}

ASKS = (
    "Can you explain this to me?",
    "I read the following and I am not sure what it means.",
    "Please summarise this for a friend.",
    "What would you change in this paragraph?",
    "Could you rewrite this more clearly?",
)


def _prompt(rng: random.Random) -> str:
    return rng.choice(ASKS) + " " + document(rng, 20, 40).replace("\n\n", " ")


def _answer(rng: random.Random) -> str:
    return document(rng, 50, 110)


def _conversation(rng: random.Random, exchanges: int = 1, system: bool = False) -> list[dict]:
    turns = [{"role": "system", "content": "You are a helpful assistant."}] if system else []
    for _ in range(exchanges):
        turns += [
            {"role": "user", "content": _prompt(rng)},
            {"role": "assistant", "content": _answer(rng)},
        ]
    return turns


def _openai(rng: random.Random, planted: dict) -> list[dict]:
    rows = [
        {"id": f"chat-{i:03d}", "messages": _conversation(rng, 1 + i % 3, system=i % 4 == 0)}
        for i in range(40)
    ]
    # whitespace-only variants of one conversation: exact duplicates
    base = _conversation(rng, 2)
    spaced = [{**t, "content": "  " + t["content"].replace(" ", "   ") + "\n"} for t in base]
    rows += [{"id": "chat-dup-a", "messages": base}, {"id": "chat-dup-b", "messages": spaced}]
    planted["exact_duplicates"] = [["chat-dup-a", "chat-dup-b"]]
    # one prompt, three sampled answers: kept by default, one kept with dedup.exact.key=prompt
    prompt = _prompt(rng)
    rows += [
        {
            "id": f"chat-sampled-{k}",
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": _answer(rng)},
            ],
        }
        for k in range(3)
    ]
    planted["same_prompt"] = ["chat-sampled-0", "chat-sampled-1", "chat-sampled-2"]
    # PII across turns: the name and the e-mail address recur in the assistant turn
    rows.append(
        {
            "id": "chat-pii",
            "messages": [
                {
                    "role": "user",
                    "content": "Hello, my name is Dana Whitfield and my email is "
                    "dana.whitfield@example.com. " + _prompt(rng),
                },
                {
                    "role": "assistant",
                    "content": "Thanks, Dana Whitfield. I will write to dana.whitfield@example.com "
                    "once this is done. " + _answer(rng),
                },
            ],
        }
    )
    planted["pii_across_turns"] = {
        "id": "chat-pii",
        "values": {"PERSON": "Dana Whitfield", "EMAIL_ADDRESS": "dana.whitfield@example.com"},
    }
    refusal = "I'm sorry, but I can't help with that request."
    rows.append(
        {
            "id": "chat-refusal",
            "messages": [
                {"role": "user", "content": _prompt(rng)},
                {"role": "assistant", "content": refusal},
            ],
        }
    )
    rows.append({"id": "chat-long", "messages": _conversation(rng, 34)})
    rows.append({"id": "chat-no-answer", "messages": [{"role": "user", "content": _prompt(rng)}]})
    rows.append(
        {
            "id": "chat-empty-answer",
            "messages": [
                {"role": "user", "content": _prompt(rng)},
                {"role": "assistant", "content": "   "},
            ],
        }
    )
    planted["dropped"] = {
        "chat-refusal": "refusal",
        "chat-long": "too_many_turns",
        "chat-no-answer": "no_assistant_turn",
        "chat-empty-answer": "empty_response",
    }
    ok = {"role": "user", "content": "Is this fine?"}
    bad: list[tuple[str, object]] = [
        ("not_a_list", {"role": "user", "content": "a turn where a list belongs"}),
        ("empty", []),
        ("turn_not_object", [ok, "an answer as a bare string"]),
        ("unknown_role", [{"role": "narrator", "content": "Once upon a time."}]),
        ("content_missing", [ok, {"role": "assistant"}]),
        ("content_null", [ok, {"role": "assistant", "content": None}]),
        ("content_not_string", [ok, {"role": "assistant", "content": 42}]),
        ("multimodal", [{"role": "user", "content": [{"type": "text", "text": "Look."}]}]),
        ("system_not_first", [ok, {"role": "system", "content": "Be brief."}]),
    ]
    start = len(rows)
    rows += [{"id": f"chat-bad-{name}", "messages": value} for name, value in bad]
    rows.append({"id": "chat-bad-no_messages", "prompt": "a record without messages"})
    planted["bad_records"] = [
        {
            "file": "chat/openai.jsonl",
            "position": start + k,
            "case": name,
            "error_type": ERRORS[name],
        }
        for k, name in enumerate([n for n, _ in bad] + ["no_messages"])
    ]
    return rows


def _sharegpt(rng: random.Random, planted: dict) -> list[dict]:
    role = {"user": "human", "assistant": "gpt", "system": "system"}
    rows = [
        {
            "id": f"sharegpt-{i:03d}",
            "conversations": [
                {"from": role[t["role"]], "value": t["content"]}
                for t in _conversation(rng, 1 + i % 2, system=i % 5 == 0)
            ],
        }
        for i in range(20)
    ]
    rows.append(
        {"id": "sharegpt-bad-role", "conversations": [{"from": "bot", "value": "Hi there."}]}
    )
    planted["bad_records"].append(
        {
            "file": "chat/sharegpt.json",
            "position": len(rows) - 1,
            "case": "unknown_role",
            "error_type": "unknown_role",
        }
    )
    return rows


def _alpaca(rng: random.Random, planted: dict) -> list[dict]:
    rows = []
    for i in range(20):
        topic = TOPICS[i % 2]
        rows.append(
            {
                "instruction": rng.choice(ASKS),
                "input": sentence(rng, topic) + " " + sentence(rng, topic) if i % 3 else "",
                "output": _answer(rng),
            }
        )
    rows.append({"instruction": "Summarise the text.", "input": "Some text."})
    planted["bad_records"].append(
        {
            "file": "chat/alpaca.json",
            "position": len(rows) - 1,
            "case": "response_missing",
            "error_type": "missing_response",
        }
    )
    return rows


def write_chat(out: Path, planted: dict) -> None:
    """Write ``out/chat/`` and record its planted cases in ``planted["chat"]``."""
    rng = random.Random(SEED)
    chat: dict = {}
    (out / "chat").mkdir(parents=True, exist_ok=True)
    openai = _openai(rng, chat)
    (out / "chat" / "openai.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in openai), encoding="utf-8"
    )
    for name, rows in (
        ("sharegpt.json", _sharegpt(rng, chat)),
        ("alpaca.json", _alpaca(rng, chat)),
    ):
        (out / "chat" / name).write_text(
            json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    chat["records"] = {"chat/openai.jsonl": len(openai), "chat/sharegpt.json": 21}
    chat["records"]["chat/alpaca.json"] = 21
    planted["chat"] = chat
