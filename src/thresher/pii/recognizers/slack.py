"""Slack tokens and incoming-webhook URLs."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, looks_placeholder


class SlackTokenRecognizer(PatternRecognizer):
    """``xoxb-``/``xoxp-``/``xoxa-``/``xoxr-``/``xoxs-`` tokens and
    ``https://hooks.slack.com/services/T.../B.../...`` webhooks. Entity: ``API_KEY``."""

    PATTERNS = [
        Pattern("slack_token", r"\bxox[abprs]-(?:[0-9A-Za-z]{2,}-?){2,}[0-9A-Za-z]{2,}\b", 0.9),
        Pattern(
            "slack_webhook",
            r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
            0.95,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="SlackTokenRecognizer",
            patterns=self.PATTERNS,
            context=["slack", "token", "webhook"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return len(pattern_text) >= 20 and not looks_placeholder(pattern_text[5:])
