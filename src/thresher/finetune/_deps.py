"""Lazy imports of the ``dp`` extra: torch, opacus, transformers, tokenizers.

Nothing here is imported at ``thresher`` import time; a missing package fails when fine-tuning
is asked for, with the exact install command.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from thresher.errors import ConfigError

INSTALL_HINT = "pip install 'thresher[dp]'"
_MODULES = ("torch", "opacus", "transformers", "tokenizers")


class MissingExtraError(ConfigError):
    """A package of the ``dp`` extra is not installed."""


def offline() -> None:
    """Keep the Hugging Face libraries off the network: models load from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def require(name: str) -> ModuleType:
    """Import one package of the extra or raise ``MissingExtraError`` naming the fix."""
    offline()
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError(
            f"thresher finetune needs the package {name!r}, which is not installed; "
            f"install the extra with: {INSTALL_HINT}"
        ) from exc


def require_all() -> None:
    for name in _MODULES:
        require(name)
