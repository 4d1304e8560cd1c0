"""PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted)."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE


class PrivateKeyRecognizer(PatternRecognizer):
    """A whole ``-----BEGIN ... PRIVATE KEY-----`` ... ``-----END ... PRIVATE KEY-----`` block,
    headers included; the body must look like base64. Entity: ``PRIVATE_KEY``.

    Blocks span lines, so the analyzer runs this recognizer on whole documents, not segments.
    """

    PATTERNS = [
        Pattern(
            "pem_private_key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"[\s\S]{16,16384}?"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
            1.0,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PRIVATE_KEY",
            name="PrivateKeyRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        lines = pattern_text.splitlines()[1:-1]
        body = "".join(line.strip() for line in lines if ":" not in line)
        b64 = sum(c.isalnum() or c in "+/=" for c in body)
        return len(body) >= 16 and b64 / len(body) > 0.95
