"""Replacement operators, one per entity type, and the anonymization of one text.

``placeholder`` (``<EMAIL_ADDRESS>``), ``mask`` and ``redact`` need no key. ``hash`` writes a
keyed HMAC-SHA256 of the normalized value (never Presidio's random per-entity salt),
``surrogate`` a deterministic fake (``thresher.pii.surrogates``), ``encrypt`` an AES-256-CBC
ciphertext in Presidio's ``AESCipher`` format (base64url of IV + ciphertext) that Presidio's
``Decrypt`` operator reverses. The IV is derived from the key and the value (a synthetic IV)
rather than drawn at random, so the output is deterministic; the cost is that equal values
give equal ciphertexts, which ``hash`` and ``surrogate`` reveal anyway.

Every operator is a pure function of (key, entity type, value): the same value gets the same
replacement in every document, worker and run; no counters, no order dependence.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from thresher.config import PiiConfig, PiiOperatorConfig
from thresher.pii.keys import PiiKeys
from thresher.pii.normalize import normalize_value
from thresher.pii.surrogates import surrogate
from thresher.records import PiiFinding

KEYED_OPERATORS = frozenset({"hash", "surrogate", "encrypt"})


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected span in a text (input offsets), before replacement."""

    start: int
    end: int
    entity_type: str
    score: float


def value_hmac(keys: PiiKeys, entity_type: str, value: str) -> str:
    """Keyed HMAC-SHA256 (hex) of the normalized value: matches erasure requests without
    storing the value."""
    normalized = normalize_value(entity_type, value)
    return hmac.new(keys.hmac_key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def encrypt_value(keys: PiiKeys, value: str) -> str:
    data = value.encode("utf-8")
    iv = hmac.new(keys.aes_key, b"iv\x00" + data, hashlib.sha256).digest()[:16]
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(keys.aes_key), modes.CBC(iv)).encryptor()
    return base64.urlsafe_b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def decrypt_value(keys: PiiKeys, token: str) -> str:
    """Reverse ``encrypt_value`` with Presidio's own ``Decrypt`` operator."""
    from presidio_anonymizer.operators import Decrypt

    return Decrypt().operate(token, {"key": keys.aes_key})


def _mask(value: str, op: PiiOperatorConfig) -> str:
    n = len(value) if op.chars_to_mask is None else min(op.chars_to_mask, len(value))
    if op.from_end:
        return value[: len(value) - n] + op.masking_char * n
    return op.masking_char * n + value[n:]


def apply_operator(
    op: PiiOperatorConfig, entity_type: str, value: str, keys: PiiKeys | None
) -> str:
    """The replacement of ``value`` (an ``entity_type``) under ``op``."""
    kind = op.type
    if kind == "placeholder":
        return f"<{entity_type}>"
    if kind == "redact":
        return ""
    if kind == "mask":
        return _mask(value, op)
    if keys is None:
        raise ValueError(f"operator {kind!r} needs a key")  # guarded at construction
    if kind == "hash":
        digest = value_hmac(keys, entity_type, value)
        return f"<{entity_type}:{digest[: op.hash_length]}>"
    if kind == "surrogate":
        normalized = normalize_value(entity_type, value)
        seed = hmac.new(
            keys.surrogate_key, f"{entity_type}\x00{normalized}".encode(), hashlib.sha256
        ).digest()
        return surrogate(entity_type, value, seed)
    if kind == "encrypt":
        return encrypt_value(keys, value)
    raise ValueError(f"unknown operator {kind!r}")


class Anonymizer:
    """Applies the recipe's operator per entity type to a text and its detections."""

    def __init__(self, cfg: PiiConfig, keys: PiiKeys | None) -> None:
        self._default = cfg.default_operator
        self._ops: Mapping[str, PiiOperatorConfig] = dict(cfg.operators)
        self._keys = keys

    def operator_for(self, entity_type: str) -> PiiOperatorConfig:
        return self._ops.get(entity_type, self._default)

    def anonymize(
        self, text: str, detections: Sequence[Detection], field: str | None = None
    ) -> tuple[str, tuple[PiiFinding, ...]]:
        """Replace non-overlapping ``detections`` (sorted, resolved) in ``text``.

        Returns the new text and one finding per replacement with its span in the new text.
        """
        parts: list[str] = []
        findings: list[PiiFinding] = []
        cursor = 0
        out_len = 0
        for det in sorted(detections, key=lambda d: (d.start, d.end)):
            if det.start < cursor:
                continue  # overlaps the previous one: resolution should have removed it
            value = text[det.start : det.end]
            op = self.operator_for(det.entity_type)
            replacement = apply_operator(op, det.entity_type, value, self._keys)
            parts.append(text[cursor : det.start])
            out_len += det.start - cursor
            parts.append(replacement)
            findings.append(
                PiiFinding(
                    field=field,
                    entity_type=det.entity_type,
                    start=out_len,
                    end=out_len + len(replacement),
                    operator=op.type,
                    score=round(det.score, 4),
                    value_hmac=value_hmac(self._keys, det.entity_type, value)
                    if self._keys is not None
                    else None,
                )
            )
            out_len += len(replacement)
            cursor = det.end
        parts.append(text[cursor:])
        return "".join(parts), tuple(findings)
