"""The package carries its models: a normal (non-editable) build holds every shipped artefact,
so `pip install .` anywhere analyses a record without the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hearteye.artefacts import PACKAGED_MODELS_DIR

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_every_model_artefact(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hearteye-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "hearteye/models/" + p.relative_to(PACKAGED_MODELS_DIR).as_posix()
        for p in PACKAGED_MODELS_DIR.rglob("*")
        if p.is_file()
    }
    assert {
        "hearteye/models/delineator.onnx",
        "hearteye/models/classifier/classifier.json",
    } <= shipped
    assert shipped <= names, sorted(shipped - names)


def test_models_dir_override(monkeypatch, tmp_path):
    from hearteye.artefacts import MODELS_DIR_ENV, models_dir
    from hearteye.classify import default_model_dir
    from hearteye.delineate.runtime import default_model_path

    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert models_dir() == tmp_path
    assert default_model_path() == tmp_path / "delineator.onnx"
    assert default_model_dir() == tmp_path / "classifier"
    monkeypatch.delenv(MODELS_DIR_ENV)
    assert default_model_path() == PACKAGED_MODELS_DIR / "delineator.onnx"
