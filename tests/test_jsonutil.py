"""The one numpy-to-JSON conversion (CLI and API), and an analysis surviving the trip through
its stored JSON dictionary (`Analysis.to_dict` -> JSON -> `Analysis.from_dict`)."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
from click.testing import CliRunner

from hearteye.analyze import Analysis, analyze
from hearteye.cli import main
from hearteye.io import read_record
from hearteye.jsonutil import json_safe


def test_numpy_values_become_plain_json():
    obj = {
        "f32": np.float32(1.5),
        "i64": np.int64(7),
        "arr": np.array([[1, 2], [3, 4]], dtype=np.int16),
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "nested": ({"x": np.float32(np.nan)}, [np.bool_(True)]),
        3: "int key",
    }
    out = json_safe(obj)
    assert out == {
        "f32": 1.5,
        "i64": 7,
        "arr": [[1, 2], [3, 4]],
        "nan": None,
        "inf": None,
        "nested": [{"x": None}, [True]],
        "3": "int key",
    }
    assert type(out["i64"]) is int and type(out["arr"][0][0]) is int
    json.dumps(out, allow_nan=False)  # strict JSON


def test_analysis_round_trips_through_its_stored_json(fixtures_dir):
    a = analyze(read_record(fixtures_dir / "ludb" / "24.hea"))
    stored = json.loads(json.dumps(json_safe(a.to_dict()), allow_nan=False))
    b = Analysis.from_dict(stored, a.signal)
    for f in fields(Analysis):
        if f.name != "signal":
            assert json_safe(getattr(b, f.name)) == json_safe(getattr(a, f.name)), f.name
    assert b.signal is a.signal and b.leads == a.leads and b.fs == a.fs
    assert b.to_dict() == stored


def test_cli_json_uses_the_same_conversion(fixtures_dir):
    result = CliRunner().invoke(main, ["analyze", str(fixtures_dir / "ludb" / "1.hea"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    again = json_safe(analyze(read_record(fixtures_dir / "ludb" / "1.hea")).to_dict())
    assert printed == again
