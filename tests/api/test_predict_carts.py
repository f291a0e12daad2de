"""Cart exports through `POST /predict`: bare and zipped, analysed end to end, the device's
findings in the stored summary, and the patient name taken from the file only when the form
leaves it empty (and only while PATIENT_FROM_FILE is on)."""

from __future__ import annotations

import pytest

from .api_helpers import assert_error, bearer, form, login, ludb_files, register, zipped

CARTS = {
    "ge_muse_xml": "ge_muse_xml/musePHI_muse_ecg1_paced.xml",
    "philips_xml": "philips_sierra_xml/ad4d3d80-d165_1-04_orig.xml",
    "hl7_aecg": "hl7_aecg/HL7_aECG_official_Example.xml",
    "dicom_ecg": "dicom_ecg/mortara_eli250_anonymous_ecg.dcm",
    "scp_ecg": "scp_ecg/welchallyn_cardiocontrol_ECG_20170504.SCP",
}


def _post(client, headers, files, **fields):
    return client.post(
        "/predict", headers=headers, data=form(files, **fields), content_type="multipart/form-data"
    )


@pytest.mark.parametrize("fmt", sorted(CARTS))
def test_cart_export_bare_and_zipped(client, auth, formats_dir, fmt):
    path = formats_dir / CARTS[fmt]
    data = path.read_bytes()
    for files in ([(path.name, data)], [zipped([(path.name, data)], "export.zip")]):
        resp = _post(client, auth, files)
        assert resp.status_code == 201, resp.json
        rec = resp.json
        assert rec["source_format"] == fmt and rec["n_leads"] == 12
        summary = rec["summary"]["record"]
        assert summary["format"] == fmt
        assert summary["device_measurements"]["global"]
        assert rec["summary"]["measurements"]["global"]["heart_rate"]["value"] > 20


def test_patient_fields_from_the_file_only_when_the_form_is_empty(client, auth, formats_dir):
    path = formats_dir / "philips_sierra_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml"
    files = [(path.name, path.read_bytes())]
    rec = _post(client, auth, files, patient_name="", age="", gender="").json
    assert rec["patient_name"] and rec["patient_name"] != "Jane Doe"
    assert (rec["age"], rec["gender"]) == (60, "M")
    rec = _post(client, auth, files, patient_name="Form Name", age="40", gender="M").json
    assert (rec["patient_name"], rec["age"], rec["gender"]) == ("Form Name", 40, "M")
    # A file without a patient name, and an empty form: the user must type one.
    resp = _post(client, auth, [zipped(ludb_files("1"))], patient_name="")
    assert_error(resp, 400, "patient_name_required")


def test_patient_from_file_can_be_turned_off(make_app, formats_dir):
    app = make_app(patient_from_file=False)
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    path = formats_dir / "philips_sierra_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml"
    files = [(path.name, path.read_bytes())]
    err = assert_error(_post(client, headers, files, patient_name=""), 400, "validation_error")
    assert "patient_name" in err["details"]["fields"]
    rec = _post(client, headers, files, patient_name="Typed", age="", gender="").json
    assert (rec["patient_name"], rec["age"], rec["gender"]) == ("Typed", None, None)
