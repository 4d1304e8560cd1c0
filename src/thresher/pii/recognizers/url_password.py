"""Passwords in URLs (``scheme://user:PASSWORD@host``) and connection strings / config lines
(``Password=...;``, ``password: ...``)."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, looks_placeholder


class PasswordRecognizer(PatternRecognizer):
    """Only the password is reported, never the user or host. Entity: ``PASSWORD``."""

    PATTERNS = [
        Pattern(
            "url_userinfo_password",
            r"(?<=\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@]{1,64}:)[^\s@/]{1,128}(?=@[\w.\-\[])",
            0.9,
        ),
        Pattern(
            "assigned_password",
            r"(?i:(?<=\b(?:password|passwd|pwd|pass|db_pass(?:word)?)[\"']?\s{0,3}[=:]\s{0,3}"
            r"[\"']?))[^\s;\"',]{4,128}",
            0.7,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PASSWORD",
            name="PasswordRecognizer",
            patterns=self.PATTERNS,
            context=["password", "login", "connect"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_placeholder(pattern_text)
