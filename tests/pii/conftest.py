"""Fixtures for the PII tests: engines are expensive (spaCy), so they are built once."""

from __future__ import annotations

import pytest

from thresher.config import PII_DEFAULT_ENTITIES, PiiConfig
from thresher.pii.keys import PiiKeys

TEST_KEY = b"thresher-test-key-0123456789abcdef"


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
