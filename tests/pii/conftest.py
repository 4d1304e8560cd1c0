"""Fixtures for the PII tests: engines are expensive (spaCy), so they are built once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from thresher.config import PII_DEFAULT_ENTITIES, PiiConfig
from thresher.pii.keys import PiiKeys

TEST_KEY = b"thresher-test-key-0123456789abcdef"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def fresh_python(code: str, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a new interpreter (what it imports starts from nothing) and return the
    JSON value on the last line it prints."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def sample_texts() -> list[str]:
    """Every non-blank string field of the sample records and every conversation turn: real
    text (documents, chats, notes, forum posts) for tests that compare two detectors."""
    texts: list[str] = []
    for path in sorted(SAMPLE.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            texts.extend(v for v in record.values() if isinstance(v, str) and v.strip())
            for turn in record.get("messages") or []:
                if isinstance(turn, dict) and isinstance(turn.get("content"), str):
                    texts.append(turn["content"])
    return texts


@pytest.fixture(scope="session")
def keys() -> PiiKeys:
    return PiiKeys(master=TEST_KEY)


@pytest.fixture(scope="session")
def analyzer():
    """The real Presidio + spaCy analyzer, default entities plus the types whose false
    positives thresher removes (UK_NHS, DATE_TIME)."""
    from thresher.pii.analyzer import PiiAnalyzer

    cfg = PiiConfig(entities=[*PII_DEFAULT_ENTITIES, "UK_NHS", "DATE_TIME"])
    return PiiAnalyzer(cfg)


@pytest.fixture(scope="session")
def processor(keys):
    """The document processor with the default recipe (placeholders everywhere)."""
    from thresher.pii.process import PiiProcessor

    return PiiProcessor(PiiConfig(fields={"user_id": "hash", "secret_note": "drop"}), keys)
