"""Where the shipped model artefacts live.

They are package data (``hearteye/models/``), so any install (editable or not, in a container
or a fresh virtual environment, run from any directory) finds them next to the code that reads
them. ``HEARTEYE_MODELS_DIR`` points the whole set somewhere else (a retrained set, say);
the per-model variables of `hearteye.delineate.runtime` and `hearteye.classify` still win
over it for one model.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR_ENV = "HEARTEYE_MODELS_DIR"
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"


def models_dir() -> Path:
    """The folder holding ``delineator.onnx`` and ``classifier/``."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else PACKAGED_MODELS_DIR
