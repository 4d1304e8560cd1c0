"""GitHub personal access, OAuth, app and refresh tokens."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, looks_placeholder


class GitHubTokenRecognizer(PatternRecognizer):
    """``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` tokens (36+ characters after the prefix)
    and fine-grained ``github_pat_`` tokens. Entity: ``API_KEY``."""

    PATTERNS = [
        Pattern("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", 0.95),
        Pattern("github_fine_grained_pat", r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b", 0.95),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="GitHubTokenRecognizer",
            patterns=self.PATTERNS,
            context=["github", "token"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_placeholder(pattern_text.split("_", 1)[1])
