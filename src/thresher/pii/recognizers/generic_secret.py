"""Secrets assigned to key-like names (``api_key = "..."``, ``"access_token": "..."``)."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import (
    CASE_SENSITIVE,
    hinted,
    looks_placeholder,
    mixed_alnum,
    shannon_entropy,
)


class AssignedSecretRecognizer(PatternRecognizer):
    """A high-entropy value (16+ characters, letters and digits, >= 3.5 bits/character)
    assigned to a name such as ``api_key``, ``secret``, ``access_token``, ``client_secret``.
    Only the value is reported. Entity: ``API_KEY``."""

    PATTERNS = [
        hinted(
            Pattern(
                "assigned_secret",
                r"(?i:(?<=\b(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|"
                r"(?:access|auth|bearer|refresh)[_\-]?token|token)[\"']?\s{0,3}[=:]\s{0,3}[\"']?))"
                r"[A-Za-z0-9_\-/+=.]{16,256}(?![A-Za-z0-9_\-/+=.])",
                0.7,
            ),
            # every name above ends in key, secret or token
            r"(?i:(?:key|secret|token)[\"']?\s{0,3}[=:])",
        ),
        hinted(
            Pattern(
                "bearer_header",
                r"(?i:(?<=\bauthorization:\s{0,3}bearer\s{1,3}))[A-Za-z0-9_\-/+=.]{16,2048}",
                0.8,
            ),
            r"(?i:authorization:)",
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="AssignedSecretRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return (
            mixed_alnum(pattern_text)
            and shannon_entropy(pattern_text) >= 3.5
            and not looks_placeholder(pattern_text)
        )
