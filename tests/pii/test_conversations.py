"""PII in conversations, on real Presidio and spaCy: every turn analyzed, the conversation the
unit of mention propagation and of consistent replacement, findings on ``messages.<i>``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thresher.config import PiiConfig
from thresher.pii.process import PiiProcessor
from thresher.pii.report import manifest_section
from thresher.records import Document, Turn, chat_document, render_turns

from .test_engine import _FILLER, _PII

USER = "Hi, my name is Aantje Mourik and I need help with my resume."
ASSISTANT = "Happy to help, Aantje. Here is a draft. Put Mourik in the header."


def _chat(*turns: tuple[str, str], id: str = "c", meta: dict | None = None) -> Document:
    return chat_document(id, "s", 0, tuple(Turn(r, c) for r, c in turns), meta)


@pytest.fixture(scope="module")
def keyed(keys):
    """Surrogates for names, keyed hashes for e-mail addresses, placeholders elsewhere."""
    cfg = PiiConfig(operators={"PERSON": "surrogate", "EMAIL_ADDRESS": "hash"})
    return PiiProcessor(cfg, keys)


def test_a_name_found_in_one_turn_is_found_in_the_others(processor):
    (out,), _ = processor.process([_chat(("user", USER), ("assistant", ASSISTANT))])
    assert out.messages == (
        Turn("user", "Hi, my name is <PERSON> and I need help with my resume."),
        Turn("assistant", "Happy to help, <PERSON>. Here is a draft. Put <PERSON> in the header."),
    )
    assert out.text == render_turns(out.messages)


def test_without_the_other_turn_the_mentions_are_missed(processor):
    """The control: the assistant's turn alone (as a document, or as a one-turn conversation)
    holds no name spaCy's small model finds; the user's turn is what names them."""
    alone = Document(id="d", text=ASSISTANT, source="s", position=0)
    (doc, one), _ = processor.process([alone, _chat(("assistant", ASSISTANT))])
    assert doc.text == ASSISTANT and doc.pii == ()
    assert one.messages == (Turn("assistant", ASSISTANT),) and one.pii == ()


def test_names_do_not_travel_between_conversations_of_a_batch(processor):
    first = _chat(("user", USER), ("assistant", "Noted."), id="a")
    second = _chat(("user", "Any tips?"), ("assistant", ASSISTANT), id="b")
    (a, b), _ = processor.process([first, second])
    assert a.messages[0].content == "Hi, my name is <PERSON> and I need help with my resume."
    assert b.messages[1].content == ASSISTANT and b.pii == ()


def test_findings_name_their_turn_and_index_its_output(processor):
    chat = _chat(
        ("system", "You are a careful assistant."),
        ("user", USER + " Write to aantje.mourik@postbox.org."),
        ("assistant", ASSISTANT),
    )
    (out,), stats = processor.process([chat])
    user = "Hi, my name is <PERSON> and I need help with my resume. Write to <EMAIL_ADDRESS>."
    assistant = "Happy to help, <PERSON>. Here is a draft. Put <PERSON> in the header."
    assert [t.content for t in out.messages] == ["You are a careful assistant.", user, assistant]
    found = [(f.field, f.entity_type, f.start, f.end) for f in out.pii]
    assert found == [
        ("messages.1", "PERSON", 15, 23),
        ("messages.1", "EMAIL_ADDRESS", 65, 80),
        ("messages.2", "PERSON", 15, 23),
        ("messages.2", "PERSON", 46, 54),
    ]
    for f in out.pii:
        turn = out.messages[int(f.field.split(".")[1])]
        assert turn.content[f.start : f.end] == f"<{f.entity_type}>"
    assert stats["pii.role.user.PERSON"] == 1
    assert stats["pii.role.user.EMAIL_ADDRESS"] == 1
    assert stats["pii.role.assistant.PERSON"] == 2
    assert stats["pii.entity.PERSON"] == 3 and stats["pii.documents_with_pii"] == 1
    assert "pii.in_meta" not in stats and not any(k.startswith("pii.role.system") for k in stats)
    section = manifest_section(processor.cfg, stats)
    assert section["roles"] == {
        "assistant": {"PERSON": 2},
        "user": {"EMAIL_ADDRESS": 1, "PERSON": 1},
    }
    assert section["findings_in_meta"] == 0


def test_surrogate_and_hash_are_the_same_in_every_turn(keyed):
    chat = _chat(
        ("user", "I am Aantje Mourik, mail me at aantje.mourik@postbox.org please."),
        ("assistant", "Sure. I will mail aantje.mourik@postbox.org, Aantje Mourik."),
        ("user", "Thanks! Aantje Mourik again, from aantje.mourik@postbox.org."),
    )
    (out,), _ = keyed.process([chat])
    replaced: dict[str, set[str]] = {}
    turns: dict[str, set[str]] = {}
    for f in out.pii:
        value = out.messages[int(f.field.split(".")[1])].content[f.start : f.end]
        replaced.setdefault(f.entity_type, set()).add(value)
        turns.setdefault(f.entity_type, set()).add(f.field)
    assert turns == {t: {"messages.0", "messages.1", "messages.2"} for t in replaced}
    (email,) = replaced["EMAIL_ADDRESS"]
    assert email.startswith("<EMAIL_ADDRESS:")
    (name,) = replaced["PERSON"]
    assert name != "Aantje Mourik" and len(name.split()) == 2
    assert len({f.value_hmac for f in out.pii if f.entity_type == "PERSON"}) == 1
    assert "Aantje" not in out.text and "postbox" not in out.text


@pytest.mark.parametrize(
    "text",
    [
        USER,
        "Dr Margaret Thornton can be reached at m.thornton@northwind-mail.com "
        "or (415) 867-5309.\n\nMargaret is away on Fridays.",
        "Maciej Borkowski directed it.\n\nSTARRING BORKOWSKI AND EKLUND, MICHAEL AND HODGE.",
        "Nothing personal in here at all.",
    ],
)
def test_a_one_turn_conversation_equals_the_document(processor, text):
    meta = {"author_email": "bob@corp.com", "user_id": 42, "secret_note": "x"}
    doc = Document(id="d", text=text, source="s", position=0, meta=meta)
    (as_doc,), doc_stats = processor.process([doc])
    (as_chat,), chat_stats = processor.process([_chat(("user", text), meta=meta)])
    assert as_chat.messages == (Turn("user", as_doc.text),)
    assert as_chat.text == as_doc.text and as_chat.meta == as_doc.meta
    expected = [f if f.field else _in_turn(f, "messages.0") for f in as_doc.pii]
    assert list(as_chat.pii) == expected
    roles = {k for k in chat_stats if k.startswith("pii.role.")}
    assert roles == {f"pii.role.user.{f.entity_type}" for f in as_doc.pii if f.field is None}
    without_roles = {k: v for k, v in chat_stats.items() if k not in roles}
    segment_keys = {k for k in doc_stats if k.startswith(("pii.segments", "pii.ner"))}
    assert {k: v for k, v in without_roles.items() if k not in segment_keys} == {
        k: v for k, v in doc_stats.items() if k not in segment_keys
    }  # (the second call finds its segments in the cache)


def _in_turn(f, field):
    from dataclasses import replace

    return replace(f, field=field)


def test_meta_fields_of_a_conversation_keep_their_policies(processor):
    chat = _chat(
        ("user", "Hello there."),
        ("assistant", "Hi."),
        id="m",
        meta={"author_email": "carol@corp.com", "user_id": 7, "secret_note": "gone"},
    )
    (out,), stats = processor.process([chat])
    assert out.meta["author_email"] == "<EMAIL_ADDRESS>"
    assert "secret_note" not in out.meta and len(out.meta["user_id"]) == 32
    assert [(f.field, f.entity_type) for f in out.pii] == [("meta.author_email", "EMAIL_ADDRESS")]
    assert stats["pii.in_meta"] == 1 and not any(k.startswith("pii.role.") for k in stats)
    assert out.messages == chat.messages


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["user", "assistant", "tool"]), _FILLER, _PII),
        min_size=1,
        max_size=5,
    )
)
def test_no_pattern_pii_survives_in_any_turn(processor, turns):
    """Property: whatever the turns hold, no pattern-type value survives in any of them, every
    finding indexes a placeholder in its own turn, and ``text`` is the turns' view."""
    chat = _chat(*((role, f"{filler} {value} ") for role, filler, value in turns))
    (out,), stats = processor.process([chat])
    for _, _, value in turns:
        assert all(value not in t.content for t in out.messages)
    for f in out.pii:
        content = out.messages[int(f.field.removeprefix("messages."))].content
        assert content[f.start : f.end] == f"<{f.entity_type}>"
    assert out.text == render_turns(out.messages)
    assert [t.role for t in out.messages] == [role for role, _, _ in turns]
    assert sum(v for k, v in stats.items() if k.startswith("pii.role.")) == len(out.pii)


def test_output_does_not_depend_on_batching_or_order(processor):
    records = [
        _chat(("user", USER), ("assistant", ASSISTANT), id="a"),
        Document(id="d", text="Regards,\n\nAnn Lee (ann.lee@example.org)", source="s", position=1),
        _chat(("user", "Call (212) 555-0134."), ("assistant", "Calling Ann Lee."), id="b"),
    ]
    together, _ = processor.process(records)
    one_by_one = [processor.process([r])[0][0] for r in reversed(records)]
    assert together == list(reversed(one_by_one))
