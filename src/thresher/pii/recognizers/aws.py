"""AWS access key ids and secret access keys."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted, mixed_alnum, shannon_entropy


class AwsKeyRecognizer(PatternRecognizer):
    """``AKIA...``/``ASIA...`` access key ids (20 characters) and 40-character secret keys
    that follow an ``aws_secret_access_key`` style assignment (only the secret is reported).

    Entity: ``API_KEY``.
    """

    PATTERNS = [
        Pattern("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z2-7]{16}\b", 0.9),
        hinted(
            Pattern(
                "aws_secret_access_key",
                r"(?i:(?<=aws.{0,20}secret.{0,20}[\"']?\s{0,3}[=:]\s{0,3}[\"']?))"
                r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
                0.85,
            ),
            r"(?i:aws)",
        ),
    ]
    CONTEXT = ["aws", "access", "secret", "key"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="API_KEY",
            name="AwsKeyRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        if len(pattern_text) == 40:
            return mixed_alnum(pattern_text) and shannon_entropy(pattern_text) >= 4.0
        # Key ids are reported even when they look like documentation samples
        # ("...EXAMPLE"): the format is strict, and a false alarm costs nothing.
        return True
