"""Key handling for keyed operators (``hash``, ``surrogate``, ``encrypt``) and finding HMACs.

The key never lives in a recipe: ``pii.key_env`` names an environment variable and
``pii.key_file`` a file. With neither, thresher uses the user key store (``pii.key_store``,
default ``$XDG_CONFIG_HOME/thresher/keys`` or ``~/.config/thresher/keys``): the first run
creates ``default.key`` there with mode 0600, outside any output directory, and later runs
reuse it so pseudonyms stay consistent across runs. Manifests record only the key id.

One master key derives independent subkeys (HMAC-SHA256 with a purpose label), so the value
HMACs, surrogates and ciphertexts never share key material directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from thresher.errors import ConfigError

DEFAULT_KEY_NAME = "default.key"
_MIN_KEY_BYTES = 16


@dataclasses.dataclass(frozen=True)
class KeySource:
    """Where the key comes from: ``kind`` is ``env``, ``file`` or ``store``; ``where`` is the
    variable name or the file path. Safe to pickle and to log: it holds no key material."""

    kind: str
    where: str

    def describe(self) -> str:
        return f"{self.kind}:{self.where}" if self.kind == "env" else self.kind


@dataclasses.dataclass(frozen=True, repr=False)
class PiiKeys:
    """Subkeys derived from one master key. ``repr`` hides them."""

    master: bytes

    def _derive(self, purpose: str) -> bytes:
        return hmac.new(self.master, b"thresher/pii/" + purpose.encode(), hashlib.sha256).digest()

    @property
    def hmac_key(self) -> bytes:
        return self._derive("value-hmac")

    @property
    def surrogate_key(self) -> bytes:
        return self._derive("surrogate")

    @property
    def pseudonym_key(self) -> bytes:
        return self._derive("field-pseudonym")

    @property
    def aes_key(self) -> bytes:
        return self._derive("aes-256")

    @property
    def key_id(self) -> str:
        """A public identifier of the key (a one-way hash): safe for manifests."""
        return "k-" + self._derive("key-id").hex()[:16]

    def __repr__(self) -> str:
        return f"PiiKeys(key_id={self.key_id})"


def default_key_store() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "thresher" / "keys"


def key_source(key_env: str | None, key_file: str | None, key_store: str | None) -> KeySource:
    """Resolve where the key lives, creating the store key on first use. Fails before any
    pipeline runs when a named key is missing, empty or too short."""
    if key_env:
        value = os.environ.get(key_env)
        if not value:
            raise ConfigError(
                f"pii.key_env = {key_env!r}: the environment variable is not set or empty; "
                f"export it (e.g. `export {key_env}=$(openssl rand -hex 32)`) or name a "
                "pii.key_file"
            )
        _check_length(value.encode(), f"environment variable {key_env}")
        return KeySource("env", key_env)
    if key_file and "://" in key_file:
        # A key on a shared filesystem (gs://, s3://) for remote workers: IAM guards it, and
        # no launcher path is baked into the job graph.
        try:
            from apache_beam.io.filesystems import FileSystems

            found = FileSystems.exists(key_file)
        except Exception as exc:
            raise ConfigError(
                f"pii.key_file = {key_file!r}: its filesystem is not available here "
                f"({type(exc).__name__}); install Beam's extra for it, e.g. apache-beam[gcp]"
            ) from exc
        if not found:
            raise ConfigError(f"pii.key_file = {key_file!r} does not exist; upload the key there")
        return KeySource("file", key_file)
    if key_file:
        path = Path(key_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"pii.key_file = {key_file!r} does not exist; create it (e.g. "
                f"`openssl rand -hex 32 > {key_file} && chmod 600 {key_file}`) or name "
                "pii.key_env"
            )
        _check_length(path.read_bytes().strip(), f"key file {key_file!r}")
        return KeySource("file", str(path.resolve()))
    store = Path(key_store).expanduser() if key_store else default_key_store()
    path = store / DEFAULT_KEY_NAME
    if not path.exists():
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    return KeySource("store", str(path.resolve()))


def _check_length(raw: bytes, where: str) -> None:
    if len(raw) < _MIN_KEY_BYTES:
        raise ConfigError(
            f"the PII key in {where} is {len(raw)} bytes; use at least {_MIN_KEY_BYTES} "
            "(e.g. `openssl rand -hex 32`)"
        )


def load_keys(source: KeySource) -> PiiKeys:
    """Read the key material named by ``source`` (on the worker, in ``DoFn.setup``)."""
    if source.kind == "env":
        value = os.environ.get(source.where, "")
        raw = value.strip().encode()
    elif "://" in source.where:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(source.where) as fh:
            raw = fh.read().strip()
    else:
        try:
            raw = Path(source.where).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"PII key file {source.where!r} cannot be read ({type(exc).__name__}); "
                "check the path and its permissions"
            ) from exc
    _check_length(raw, source.describe())
    return PiiKeys(master=raw)


def read_key_file(path: str) -> PiiKeys:
    """Keys from a key file given on the command line (``thresher reidentify --key-file``)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"--key-file {path!r} does not exist; pass the key file of the run")
    return load_keys(KeySource("file", str(p)))
