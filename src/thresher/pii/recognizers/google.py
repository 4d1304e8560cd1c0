"""Google API keys and OAuth access tokens."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, looks_placeholder


class GoogleApiKeyRecognizer(PatternRecognizer):
    """``AIza`` + 35 characters (API keys) and ``ya29.`` OAuth access tokens.
    Entity: ``API_KEY``."""

    PATTERNS = [
        Pattern("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])", 0.9),
        Pattern("google_oauth_token", r"\bya29\.[0-9A-Za-z_\-]{20,}", 0.85),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="GoogleApiKeyRecognizer",
            patterns=self.PATTERNS,
            context=["google", "api", "key", "token"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_placeholder(pattern_text[5:])
