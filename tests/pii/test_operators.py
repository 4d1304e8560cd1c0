"""Operators and keys: determinism across processes, encrypt round trip, Luhn-valid cards."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.config import PiiConfig, PiiOperatorConfig
from thresher.errors import ConfigError
from thresher.pii.keys import PiiKeys, key_source, load_keys
from thresher.pii.operators import (
    Anonymizer,
    Detection,
    apply_operator,
    decrypt_value,
    encrypt_value,
    value_hmac,
)
from thresher.pii.surrogates import luhn_valid

from .conftest import TEST_KEY

VALUES = [
    ("PERSON", "John Smith"),
    ("EMAIL_ADDRESS", "john.smith@acme.com"),
    ("PHONE_NUMBER", "(212) 555-0134"),
    ("CREDIT_CARD", "4111 1111 1111 1111"),
    ("LOCATION", "12 Oak Street"),
    ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
    ("IP_ADDRESS", "10.1.2.3"),
    ("US_SSN", "123-45-6789"),
]

_SCRIPT = """
import json, sys
from thresher.config import PiiOperatorConfig
from thresher.pii.keys import PiiKeys
from thresher.pii.operators import apply_operator
keys = PiiKeys(master=sys.argv[1].encode())
values = json.loads(sys.argv[2])
print(json.dumps([[apply_operator(PiiOperatorConfig(type=op), t, v, keys) for op in
                   ("hash", "surrogate", "encrypt")] for t, v in values]))
"""


def _ops_here(keys):
    return [
        [
            apply_operator(PiiOperatorConfig(type=op), t, v, keys)
            for op in ("hash", "surrogate", "encrypt")
        ]
        for t, v in VALUES
    ]


def test_keyed_operators_are_deterministic_across_processes(keys):
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    outputs = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT, TEST_KEY.decode(), json.dumps(VALUES)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1] == _ops_here(keys)


def test_keyed_operators_depend_on_the_key(keys):
    other = PiiKeys(master=b"another-key-0123456789abcdefgh")
    assert _ops_here(keys) != _ops_here(other)
    for (h1, _s1, e1), (h2, _s2, e2) in zip(_ops_here(keys), _ops_here(other), strict=True):
        assert h1 != h2 and e1 != e2


@pytest.mark.parametrize(("entity", "value"), VALUES)
def test_surrogate_differs_from_value_and_keeps_the_type(keys, entity, value):
    fake = apply_operator(PiiOperatorConfig(type="surrogate"), entity, value, keys)
    assert fake != value
    if entity == "EMAIL_ADDRESS":
        assert fake.count("@") == 1 and fake.rsplit(".", 1)[0].endswith("example")
    if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN"):
        # same format: separators kept, digits replaced
        assert [c for c in fake if not c.isdigit()] == [c for c in value if not c.isdigit()]
    if entity == "PERSON":
        assert len(fake.split()) == 2


def test_same_person_same_surrogate_however_written(keys):
    op = PiiOperatorConfig(type="surrogate")
    a = apply_operator(op, "PERSON", "John Smith", keys)
    b = apply_operator(op, "PERSON", "JOHN  SMITH", keys)
    assert a.upper() == b.upper().replace("  ", " ")
    assert value_hmac(keys, "PHONE_NUMBER", "(212) 555-0134") == value_hmac(
        keys, "PHONE_NUMBER", "212.555.0134"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=15, max_size=16), st.sampled_from([" ", "-", ""]))
def test_card_surrogates_pass_luhn(digits, sep):
    keys = PiiKeys(master=TEST_KEY)
    value = sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    fake = apply_operator(PiiOperatorConfig(type="surrogate"), "CREDIT_CARD", value, keys)
    assert luhn_valid(fake)
    assert len(fake) == len(value) and fake[0] == value[0]


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_encrypt_round_trips_through_presidio_decrypt(value):
    keys = PiiKeys(master=TEST_KEY)
    token = encrypt_value(keys, value)
    assert value not in token or len(value) < 3
    assert decrypt_value(keys, token) == value
    assert encrypt_value(keys, value) == token  # deterministic


def test_placeholder_mask_redact_hash_formats(keys):
    assert apply_operator(PiiOperatorConfig(), "EMAIL_ADDRESS", "a@b.co", None) == "<EMAIL_ADDRESS>"
    assert apply_operator(PiiOperatorConfig(type="redact"), "URL", "x.io", None) == ""
    masked = PiiOperatorConfig(type="mask", chars_to_mask=4, from_end=True)
    assert apply_operator(masked, "PHONE_NUMBER", "555-0134", None) == "555-****"
    hashed = apply_operator(PiiOperatorConfig(type="hash"), "PERSON", "Ann Lee", keys)
    assert hashed.startswith("<PERSON:") and len(hashed) == len("<PERSON:>") + 16


def test_anonymizer_reports_spans_in_the_output_text(keys):
    cfg = PiiConfig(operators={"PERSON": "surrogate", "EMAIL_ADDRESS": "placeholder"})
    text = "Hi John Smith, mail john@x.org now"
    dets = [Detection(3, 13, "PERSON", 0.85), Detection(20, 30, "EMAIL_ADDRESS", 1.0)]
    out, findings = Anonymizer(cfg, keys).anonymize(text, dets)
    assert "John Smith" not in out and "john@x.org" not in out
    assert out[findings[1].start : findings[1].end] == "<EMAIL_ADDRESS>"
    assert [f.operator for f in findings] == ["surrogate", "placeholder"]
    assert findings[0].value_hmac == value_hmac(keys, "PERSON", "John Smith")
    assert "John" not in json.dumps([f.__dict__ for f in findings])


def test_missing_key_env_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("THRESHER_TEST_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError, match="THRESHER_TEST_MISSING_KEY"):
        key_source("THRESHER_TEST_MISSING_KEY", None, None)
    with pytest.raises(ConfigError, match="does not exist"):
        key_source(None, "/nonexistent/key/file", None)


def test_short_key_is_rejected(monkeypatch):
    monkeypatch.setenv("THRESHER_TEST_SHORT_KEY", "abc")
    with pytest.raises(ConfigError, match="at least 16"):
        key_source("THRESHER_TEST_SHORT_KEY", None, None)


def test_store_key_is_created_once_with_mode_0600(tmp_path):
    store = tmp_path / "keys"
    first = key_source(None, None, str(store))
    second = key_source(None, None, str(store))
    assert first == second and first.kind == "store"
    mode = stat.S_IMODE(os.stat(first.where).st_mode)
    assert mode == 0o600
    keys = load_keys(first)
    assert keys.key_id.startswith("k-") and keys.key_id not in repr(keys.master)
    assert "master" not in repr(keys) and repr(keys) == f"PiiKeys(key_id={keys.key_id})"


def test_config_rejects_two_key_sources_and_unknown_operator_entity():
    with pytest.raises(ValueError, match="mutually exclusive"):
        PiiConfig(key_env="A", key_file="B")
    with pytest.raises(ValueError, match=r"not in pii\.entities"):
        PiiConfig(operators={"NOT_A_TYPE": "hash"})
