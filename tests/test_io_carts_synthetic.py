"""Cart readers on synthetic files (no staged data needed): the generators of the hostile
corpus write readable files, each hostile cart case is refused over the CLI too, and random
damage to a cart file never escapes as an untyped error."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hearteye.cli import main
from hearteye.errors import HeartEyeError
from hearteye.io import parse_upload, read_record
from hearteye.record import Record
from hostile_carts import MUSE_LEADS, cart_cases, dicom_ecg, muse_xml, synthetic_leads
from hostile_corpus import HostileCase
from test_upload_hostile import _mutations

CART_CASES = cart_cases(HostileCase)


def test_synthetic_muse_reads_back_exactly(tmp_path):
    path = tmp_path / "synthetic.xml"
    path.write_bytes(muse_xml())
    rec = read_record(path)
    counts = synthetic_leads(len(MUSE_LEADS), 5000, 500)
    for i, name in enumerate(MUSE_LEADS):
        np.testing.assert_allclose(rec.lead(name), counts[i] * 4.88e-3, rtol=1e-6, atol=1e-6)
    assert rec.meta.format == "ge_muse_xml" and rec.n_leads == 12 and rec.fs == 500


def test_synthetic_dicom_reads_back_exactly(tmp_path):
    path = tmp_path / "synthetic.dcm"
    path.write_bytes(dicom_ecg())
    rec = read_record(path)
    counts = synthetic_leads(12, 5000, 500.0)
    np.testing.assert_allclose(rec.signal, counts * 2.5e-3, rtol=1e-6, atol=1e-6)
    assert rec.meta.format == "dicom_ecg" and rec.meta.sex == "F"


def test_at_least_fifteen_cart_cases_with_their_own_codes():
    assert len(CART_CASES) >= 15
    assert len({c.code for c in CART_CASES}) >= 15


@pytest.mark.parametrize("case", CART_CASES, ids=[c.name for c in CART_CASES])
def test_hostile_cart_file_is_refused_by_the_cli(tmp_path, case):
    ((name, data),) = case.files
    path = tmp_path / name
    path.write_bytes(data)
    for command in ("info", "analyze"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert f"[{case.code}]" in result.output
        assert "Traceback" not in result.output and str(tmp_path) not in result.output


@pytest.mark.parametrize("target", ["muse", "dicom"])
def test_damaged_cart_files_never_raise_untyped_errors(target):
    rng = np.random.default_rng({"muse": 4, "dicom": 5}[target])
    source = {"muse": muse_xml(n=1000), "dicom": dicom_ecg(samples=1000)}[target]
    outcomes = {"ok": 0, "rejected": 0}
    for mutated in _mutations(source, rng, 120, span=4000):
        try:
            record = parse_upload([(f"ecg.{target}", mutated)])
        except HeartEyeError as err:
            assert err.code and err.message and "/tmp/" not in err.message
            outcomes["rejected"] += 1
        else:
            assert isinstance(record, Record)
            outcomes["ok"] += 1
    assert outcomes["rejected"] > 0
