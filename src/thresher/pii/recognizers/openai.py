"""OpenAI-style ``sk-`` secret keys (OpenAI, Anthropic ``sk-ant-`` and compatible services)."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import (
    CASE_SENSITIVE,
    looks_placeholder,
    mixed_alnum,
    shannon_entropy,
)


class OpenAiKeyRecognizer(PatternRecognizer):
    """``sk-`` followed by an optional project/service prefix and 20+ key characters, checked
    for mixed letters and digits and high entropy so ``sk-learn`` style words do not match.
    Entity: ``API_KEY``."""

    PATTERNS = [
        Pattern(
            "openai_style_key",
            r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,}(?![A-Za-z0-9_\-])",
            0.85,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="OpenAiKeyRecognizer",
            patterns=self.PATTERNS,
            context=["openai", "anthropic", "api", "key"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        body = pattern_text[3:]
        return mixed_alnum(body) and shannon_entropy(body) >= 3.5 and not looks_placeholder(body)
