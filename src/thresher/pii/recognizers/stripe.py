"""Stripe secret, restricted and publishable keys."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, looks_placeholder, mixed_alnum


class StripeKeyRecognizer(PatternRecognizer):
    """``sk_live_``/``sk_test_``/``rk_live_``/``pk_live_``... keys. Entity: ``API_KEY``."""

    PATTERNS = [Pattern("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,247}\b", 0.9)]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="StripeKeyRecognizer",
            patterns=self.PATTERNS,
            context=["stripe", "key"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        secret = pattern_text.split("_", 2)[2]
        return mixed_alnum(secret) and not looks_placeholder(secret)
