"""The output directory: its layout, its typed manifest, and atomic I/O through Beam
``FileSystems`` (so every command accepts any Beam path)."""

from thresher.output import carry, fs, layout
from thresher.output.manifest import (
    Manifest,
    manifest_json_schema,
    manifest_sha256,
    read_manifest,
    write_manifest,
)

__all__ = [
    "Manifest",
    "carry",
    "fs",
    "layout",
    "manifest_json_schema",
    "manifest_sha256",
    "read_manifest",
    "write_manifest",
]
