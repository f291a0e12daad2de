"""The export routes on uploaded records: PDF report, FHIR, DICOM, measurements CSV and the
streamed history CSV, each for the owner only (other users: tests/reliability/test_access.py)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pydicom
import pytest
from fhir.resources.R4B.bundle import Bundle

from hearteye.api.services import ecgs as ecgs_service

from .api_helpers import edf_file, form, ludb_files, zipped


def _upload(client, auth, files, name="Jane Doe") -> str:
    resp = client.post(
        "/predict",
        headers=auth,
        content_type="multipart/form-data",
        data=form(files, patient_name=name),
    )
    assert resp.status_code == 201, resp.json
    return resp.json["file_id"]


def _attachment(resp, media_type: str) -> bytes:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == media_type
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.get_data()


def test_record_exports(client, auth):
    """One upload, every per-record export (one test: each upload costs an analysis)."""
    fid = _upload(client, auth, [zipped(ludb_files("1"))])
    record = client.get(f"/ecg/{fid}", headers=auth).json

    pdf = _attachment(client.get(f"/ecg/{fid}/report.pdf", headers=auth), "application/pdf")
    letter = client.get(f"/ecg/{fid}/report.pdf?paper=letter", headers=auth).get_data()
    assert pdf[:5] == letter[:5] == b"%PDF-" and letter != pdf
    assert client.get(f"/ecg/{fid}/report.pdf?paper=a3", headers=auth).status_code == 400

    body = _attachment(client.get(f"/ecg/{fid}/fhir", headers=auth), "application/fhir+json")
    model = Bundle.model_validate_json(body)
    kinds = [e.resource.get_resource_type() for e in model.entry]
    assert kinds[:2] == ["Patient", "DiagnosticReport"] and kinds.count("Observation") == 9
    assert model.entry[0].resource.name[0].text == "Jane Doe"
    slim = client.get(f"/ecg/{fid}/fhir?waveform=false", headers=auth)
    assert len(json.loads(slim.get_data())["entry"]) == len(kinds) - 1

    data = _attachment(client.get(f"/ecg/{fid}/dicom", headers=auth), "application/dicom")
    ds = pydicom.dcmread(io.BytesIO(data))
    assert str(ds.PatientName) == "Jane Doe" and ds.PatientSex == "F"
    leads = client.get(f"/ecg/{fid}/leads?seconds=10", headers=auth).json
    stored = np.rint(np.array(leads["signals"]) * 1000)  # the display signal, mV to 1 uV
    assert np.array_equal(ds.waveform_array(0).T, stored)

    text = _attachment(client.get(f"/ecg/{fid}/measurements.csv", headers=auth), "text/csv")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(text.decode()))}
    assert float(rows["heart_rate"]["value"]) == pytest.approx(record["heart_rate"], abs=0.01)
    assert rows["qtc_bazett"]["loinc"] == "8636-3"


def test_history_export_streams_every_page_and_filters(client, auth, monkeypatch):
    monkeypatch.setattr(ecgs_service, "SUMMARY_BATCH", 2)  # three records: two fetches
    ids = [
        _upload(client, auth, [zipped(ludb_files("1"))], "Anna Smith"),
        _upload(client, auth, [edf_file("ludb_119.edf")], "=Bob"),
        _upload(client, auth, [zipped(ludb_files("24"))], "Anna Jones"),
    ]
    resp = client.get("/history/export.csv", headers=auth)
    assert resp.is_streamed
    rows = list(csv.DictReader(io.StringIO(_attachment(resp, "text/csv").decode())))
    assert [r["file_id"] for r in rows] == ids[::-1]  # newest first, each once
    assert rows[1]["patient_name"] == "'=Bob"
    assert all(r["heart_rate_bpm"] and r["qrs_axis_deg"] for r in rows)
    anna = client.get("/history/export.csv?search=anna", headers=auth).get_data(as_text=True)
    assert [r["patient_name"] for r in csv.DictReader(io.StringIO(anna))] == [
        "Anna Jones",
        "Anna Smith",
    ]


def test_history_export_memory_stays_flat(app, client, auth, database_url):
    """Streaming 400 records takes no more memory than streaming 100: rows are fetched a
    page at a time and written as they come (measured with tracemalloc, on SQLite only)."""
    import tracemalloc

    from sqlalchemy import insert, select

    from hearteye.api.models import Ecg

    if not database_url.startswith("sqlite"):
        pytest.skip("measured once, on SQLite")
    fid = _upload(client, auth, [zipped(ludb_files("1"))])
    engine = app.extensions["hearteye"].engine
    with engine.begin() as conn:
        row = dict(conn.execute(select(Ecg.__table__).where(Ecg.file_id == fid)).mappings().one())
        row.pop("id")
        copies = [
            {**row, "file_id": f"copy{i:05d}", "patient_name": f"P {i:03d}"} for i in range(399)
        ]
        conn.execute(insert(Ecg.__table__), copies)

    def peak(search: str) -> tuple[int, int]:
        tracemalloc.start()
        resp = client.get(f"/history/export.csv?search={search}", headers=auth)
        lines = sum(chunk.count(b"\n") for chunk in resp.response)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return lines - 1, top

    few, few_peak = peak("P 1")  # P 100 to P 199
    every, every_peak = peak("")
    assert (few, every) == (100, 400)
    assert every_peak < 1.5 * few_peak
