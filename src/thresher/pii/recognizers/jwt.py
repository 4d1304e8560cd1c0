"""JSON Web Tokens (three base64url parts, the header decoding to JSON with ``alg``)."""

from __future__ import annotations

import base64
import json

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE


def _b64json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


class JwtRecognizer(PatternRecognizer):
    """``eyJ...`` header and payload plus a signature; validated by decoding the header.
    Entity: ``JWT``."""

    PATTERNS = [
        Pattern(
            "jwt",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?![A-Za-z0-9_\-])",
            0.9,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="JWT",
            name="JwtRecognizer",
            patterns=self.PATTERNS,
            context=["jwt", "token", "bearer"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        try:
            header = _b64json(pattern_text.split(".", 1)[0])
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(header, dict) and "alg" in header
