"""The clinic's workflow over a real app, on SQLite and PostgreSQL: teams and roles,
invitations, patients and serial comparison, overread and confirmation, the worklist and the
append-only audit trail. Every endpoint is tried from another team (404) and with a role
that may not use it (403)."""

from __future__ import annotations

import csv
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from hearteye.api.audit import AuditAppendOnly
from hearteye.api.models import AuditEvent, Invitation, utcnow

from .api_helpers import assert_error, bearer, form, login, ludb_files, register, zipped


def _upload(client, headers, files=None, **fields):
    resp = client.post(
        "/predict",
        headers=headers,
        content_type="multipart/form-data",
        data=form(files or [zipped(ludb_files("1"))], **fields),
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def _invite(client, admin, role, **extra):
    resp = client.post("/team/invitations", headers=admin, json={"role": role, **extra})
    assert resp.status_code == 201, resp.json
    return resp.json["token"]


def _member(client, admin, name, role):
    token = _invite(client, admin, role)
    client.post(
        "/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.org",
            "password": "x" * 12,
            "invitation": token,
        },
    )
    return bearer(login(client, name, "x" * 12)["access_token"])


@pytest.fixture
def clinic(client):
    """Team A: an admin, a cardiologist and a clinician; team B: one admin (outsider)."""
    register(client, "admin_a")
    admin = bearer(login(client, "admin_a")["access_token"])
    cardio = _member(client, admin, "cardio_a", "cardiologist")
    clin = _member(client, admin, "clin_a", "clinician")
    register(client, "admin_b")
    outsider = bearer(login(client, "admin_b")["access_token"])
    return {"admin": admin, "cardio": cardio, "clin": clin, "outsider": outsider}


# ------------------------------------------------------------------------ teams, roles


def test_a_new_account_is_the_admin_of_a_team_of_one(client, auth):
    team = client.get("/team", headers=auth).json
    assert team["role"] == "admin" and [m["username"] for m in team["members"]] == ["alice"]


def test_invitations_are_hashed_single_use_and_expire(app, client, clinic):
    token = _invite(client, clinic["admin"], "clinician")
    with app.extensions["hearteye"].sessions() as s:
        hashes = set(s.execute(select(Invitation.token_hash)).scalars())
    assert token not in hashes and hashlib.sha256(token.encode()).hexdigest() in hashes
    body = {"email": "n1@example.org", "password": "y" * 12, "invitation": token}
    assert client.post("/auth/register", json={**body, "username": "nurse1"}).status_code == 201
    again = client.post(
        "/auth/register", json={**body, "username": "nurse2", "email": "n2@example.org"}
    )
    assert_error(again, 400, "invitation_invalid")
    # An expired token: valid a while, then its expiry passes.
    late = _invite(client, clinic["admin"], "cardiologist", hours=1)
    with app.extensions["hearteye"].sessions() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.token_hash == hashlib.sha256(late.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        s.commit()
    expired = client.post(
        "/auth/register",
        json={
            "username": "nurse3",
            "email": "n3@example.org",
            "password": "y" * 12,
            "invitation": late,
        },
    )
    assert_error(expired, 400, "invitation_invalid")
    unknown = client.post(
        "/auth/register",
        json={
            "username": "nurse4",
            "email": "n4@example.org",
            "password": "y" * 12,
            "invitation": "not-a-token",
        },
    )
    assert_error(unknown, 400, "invitation_invalid")
    members = client.get("/team", headers=clinic["admin"]).json["members"]
    assert {m["username"]: m["role"] for m in members} == {
        "admin_a": "admin",
        "cardio_a": "cardiologist",
        "clin_a": "clinician",
        "nurse1": "clinician",
    }


def test_only_admins_manage_and_only_their_own_team(client, clinic):
    team_b = client.get("/team", headers=clinic["outsider"]).json
    b_admin = team_b["members"][0]["id"]
    members_a = {
        m["username"]: m["id"] for m in client.get("/team", headers=clinic["admin"]).json["members"]
    }
    # Admin of A cannot touch B's member; B's admin cannot touch A's.
    assert_error(
        client.put(
            f"/team/members/{b_admin}/role", headers=clinic["admin"], json={"role": "clinician"}
        ),
        404,
        "member_not_found",
    )
    assert_error(
        client.put(
            f"/team/members/{members_a['clin_a']}/role",
            headers=clinic["outsider"],
            json={"role": "admin"},
        ),
        404,
        "member_not_found",
    )
    for who in ("cardio", "clin"):
        h = clinic[who]
        assert_error(client.post("/team/invitations", headers=h, json={"role": "admin"}), 403)
        assert_error(
            client.put(
                f"/team/members/{members_a[f'{who}_a']}/role", headers=h, json={"role": "admin"}
            ),
            403,
            "role_forbidden",
        )
        assert_error(client.get("/team/audit", headers=h), 403)
    assert_error(
        client.put(
            f"/team/members/{members_a['admin_a']}/role",
            headers=clinic["admin"],
            json={"role": "clinician"},
        ),
        409,
        "last_admin",
    )
    ok = client.put(
        f"/team/members/{members_a['clin_a']}/role",
        headers=clinic["admin"],
        json={"role": "cardiologist"},
    )
    assert ok.status_code == 200 and ok.json["role"] == "cardiologist"
    events = client.get("/team/audit", headers=clinic["admin"]).json
    assert [e["action"] for e in events].count("team.role_changed") == 1
    assert not any(
        e["action"] == "team.role_changed"
        for e in client.get("/team/audit", headers=clinic["outsider"]).json
    )


# ----------------------------------------------------------------- access per endpoint


def test_every_record_endpoint_is_404_for_another_team_and_shared_in_the_team(client, clinic):
    rec = _upload(client, clinic["clin"], mrn="MRN-1", patient_name="Secret Patient")
    fid, pid = rec["file_id"], rec["patient_id"]
    assert rec["status"] == "unconfirmed" and pid is not None
    tries = [
        ("get", f"/ecg/{fid}", {}),
        ("get", f"/ecg/{fid}/leads", {}),
        ("get", f"/ecg/{fid}/plot.png", {}),
        ("get", f"/ecg/{fid}/audit", {}),
        ("put", f"/ecg/{fid}/notes", {"json": {"notes": "x"}}),
        ("put", f"/ecg/{fid}/reading", {"json": {"statements": [{"text": "x"}]}}),
        ("post", f"/ecg/{fid}/confirm", {"json": {}}),
        ("delete", f"/ecg/{fid}", {}),
        ("get", f"/patients/{pid}/ecgs", {}),
    ]
    for method, path, kw in tries:
        resp = getattr(client, method)(path, headers=clinic["outsider"], **kw)
        assert_error(resp, 404)
        assert "Secret Patient" not in resp.get_data(as_text=True)
    for path in ("/history", "/worklist", "/patients", "/patients?search=MRN"):
        resp = client.get(path, headers=clinic["outsider"])
        assert resp.status_code == 200 and resp.json == [], path
    # Every member of the record's team reads it.
    for who in ("admin", "cardio", "clin"):
        assert client.get(f"/ecg/{fid}", headers=clinic[who]).status_code == 200
        assert [r["file_id"] for r in client.get("/worklist", headers=clinic[who]).json] == [fid]
        assert client.get("/patients", headers=clinic[who]).json[0]["mrn"] == "MRN-1"


def test_only_cardiologists_edit_and_confirm(client, clinic):
    fid = _upload(client, clinic["clin"])["file_id"]
    for who in ("clin", "admin"):
        assert_error(
            client.post(f"/ecg/{fid}/confirm", headers=clinic[who], json={}), 403, "role_forbidden"
        )
        assert_error(
            client.put(f"/ecg/{fid}/reading", headers=clinic[who], json={"statements": []}),
            403,
            "role_forbidden",
        )
    ok = client.post(f"/ecg/{fid}/confirm", headers=clinic["cardio"], json={})
    assert ok.status_code == 200 and ok.json["status"] == "confirmed"
    assert_error(
        client.post(f"/ecg/{fid}/confirm", headers=clinic["cardio"], json={}),
        409,
        "already_confirmed",
    )
    # A clinician may no longer delete it once confirmed; the admin may.
    assert_error(client.delete(f"/ecg/{fid}", headers=clinic["clin"]), 403, "role_forbidden")
    assert client.delete(f"/ecg/{fid}", headers=clinic["admin"]).status_code == 200


# ------------------------------------------------------------ overread and the audit


def test_overread_keeps_the_machine_reading_and_every_change_is_audited_once(app, client, clinic):
    rec = _upload(client, clinic["clin"], notes="first")
    fid = rec["file_id"]
    machine = client.get(f"/ecg/{fid}", headers=clinic["cardio"]).json["machine_reading"]
    h = clinic["cardio"]
    assert (
        client.put(
            f"/ecg/{fid}/notes", headers=clinic["clin"], json={"notes": "second"}
        ).status_code
        == 200
    )
    client.put(f"/ecg/{fid}/notes", headers=clinic["clin"], json={"notes": "second"})  # no change
    edit = {
        "statements": [{"text": "Sinus bradycardia"}, {"text": "Otherwise normal ECG"}],
        "overall": "Abnormal ECG",
    }
    r1 = client.put(f"/ecg/{fid}/reading", headers=h, json=edit)
    assert r1.status_code == 200
    client.put(f"/ecg/{fid}/reading", headers=h, json=edit)  # the same again: no change
    r2 = client.post(f"/ecg/{fid}/confirm", headers=h, json={})
    body = r2.json
    assert body["status"] == "confirmed" and body["confirmed_at"]
    assert body["reading"]["overall"] == "Abnormal ECG"
    assert [s["text"] for s in body["reading"]["statements"]] == [
        "Sinus bradycardia",
        "Otherwise normal ECG",
    ]
    assert body["machine_reading"] == machine  # the machine's reading is kept as it was
    assert (
        client.put(f"/ecg/{fid}/notes", headers=clinic["clin"], json={"notes": None}).status_code
        == 200
    )
    # Edited after confirmation: unconfirmed again, back on the worklist.
    r3 = client.put(
        f"/ecg/{fid}/reading", headers=h, json={"statements": [], "overall": "Normal ECG"}
    )
    assert r3.json["status"] == "unconfirmed"
    assert fid in [r["file_id"] for r in client.get("/worklist", headers=h).json]

    trail = client.get(f"/ecg/{fid}/audit", headers=clinic["clin"]).json
    assert [e["action"] for e in trail] == [
        "ecg.created",
        "ecg.notes_changed",
        "ecg.reading_changed",
        "ecg.confirmed",
        "ecg.notes_changed",
        "ecg.reading_changed",
    ]
    assert [e["actor_name"] for e in trail] == [
        "clin_a",
        "clin_a",
        "cardio_a",
        "cardio_a",
        "clin_a",
        "cardio_a",
    ]
    assert trail[1]["before"] == {"notes": "first"} and trail[1]["after"] == {"notes": "second"}
    assert trail[2]["before"]["overall"] == machine["overall"]
    assert trail[2]["after"]["overall"] == "Abnormal ECG"
    assert (
        trail[5]["before"]["status"] == "confirmed" and trail[5]["after"]["status"] == "unconfirmed"
    )

    # The trail cannot be altered: not through the API ...
    for method in ("put", "patch", "delete", "post"):
        resp = getattr(client, method)(f"/ecg/{fid}/audit", headers=clinic["admin"], json={})
        assert resp.status_code == 405
    # ... nor through the ORM, nor by SQL (the database's triggers).
    engine = app.extensions["hearteye"].engine
    with app.extensions["hearteye"].sessions() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.ecg_file_id == fid)).scalars().first()
        ev.after = {"notes": "forged"}
        with pytest.raises(AuditAppendOnly):
            s.commit()
        s.rollback()
        s.delete(ev)
        with pytest.raises(AuditAppendOnly):
            s.commit()
        s.rollback()
        with pytest.raises(AuditAppendOnly):
            s.execute(update(AuditEvent).values(action="x"))
    for sql in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert client.get(f"/ecg/{fid}/audit", headers=clinic["clin"]).json == trail
    # ... and it outlives the record.
    client.delete(f"/ecg/{fid}", headers=clinic["admin"])
    team_events = client.get("/team/audit", headers=clinic["admin"]).json
    mine = [e["action"] for e in team_events if e["ecg_file_id"] == fid]
    assert mine[0] == "ecg.deleted" and len(mine) == 7


def test_worklist_is_the_unconfirmed_oldest_first(client, clinic):
    ids = [_upload(client, clinic["clin"], patient_name=f"P{i}")["file_id"] for i in range(3)]
    assert [r["file_id"] for r in client.get("/worklist", headers=clinic["cardio"]).json] == ids
    client.post(f"/ecg/{ids[1]}/confirm", headers=clinic["cardio"], json={})
    resp = client.get("/worklist?per_page=1&page=2", headers=clinic["cardio"])
    assert [r["file_id"] for r in resp.json] == [ids[2]] and resp.headers["X-Total-Count"] == "2"


# ------------------------------------------------------- patients, serial comparison


def _ptbxl(shared_data, *names):
    folder = shared_data / "ptbxl" / "records500" / "00000"
    if not (folder / f"{names[0]}_hr.hea").exists():
        pytest.skip("PTB-XL records500 are not staged")
    return [
        [
            (f"{n}_hr.hea", (folder / f"{n}_hr.hea").read_bytes()),
            (f"{n}_hr.dat", (folder / f"{n}_hr.dat").read_bytes()),
        ]
        for n in names
    ]


def test_patient_timeline_and_comparison_on_real_records(client, clinic, shared_data):
    """PTB-XL patient 13619: atrial flutter (00023), later sinus rhythm (00026)."""
    labels = {r["record"]: r for r in csv.DictReader((shared_data / "ptbxl" / "labels.csv").open())}
    assert labels["records500/00000/00023_hr"]["patient_id"] == "13619"
    assert labels["records500/00000/00026_hr"]["patient_id"] == "13619"
    flutter, sinus = _ptbxl(shared_data, "00023", "00026")
    h = clinic["clin"]
    first = _upload(
        client, h, flutter, mrn="PTB-13619", patient_name="Patient 13619", birth_date="1950-01-01"
    )
    plain = _upload(client, h, flutter, patient_name="Patient 13619")  # no MRN: as today
    second = _upload(client, h, sinus, mrn="PTB-13619", patient_name="Patient 13619")
    assert (
        first["comparison"] is None and plain["patient_id"] is None and plain["comparison"] is None
    )
    cmp = second["comparison"]
    assert cmp["compared_with"] == first["file_id"]
    assert cmp["compared_date"] == first["upload_date"]
    hr = next(c for c in cmp["changes"] if c["measurement"] == "heart_rate")
    assert hr["before"] > 110 and hr["after"] < 100
    assert (
        cmp["text"].startswith("When compared with ECG of ")
        and "heart rate has decreased" in cmp["text"]
    )
    assert cmp["statements_compared"] == ("statements" in second["summary"])
    # The patient, their ECGs newest first; another team's same MRN is another patient.
    patients = client.get("/patients", headers=h).json
    assert [(p["mrn"], p["n_ecgs"], p["birth_date"]) for p in patients] == [
        ("PTB-13619", 2, "1950-01-01")
    ]
    timeline = client.get(f"/patients/{patients[0]['id']}/ecgs", headers=h).json
    assert [r["file_id"] for r in timeline] == [second["file_id"], first["file_id"]]
    assert timeline[0]["comparison"]["compared_with"] == first["file_id"]
    other = _upload(client, clinic["outsider"], sinus, mrn="PTB-13619")
    assert other["comparison"] is None and other["patient_id"] != first["patient_id"]


def test_the_pdf_report_says_who_confirmed(client, clinic):
    """UNCONFIRMED on the printed report until a cardiologist confirms; then their name."""
    from tests.test_report import _text

    fid = _upload(client, clinic["clin"])["file_id"]
    before = _text(client.get(f"/ecg/{fid}/report.pdf", headers=clinic["clin"]).data)
    assert "UNCONFIRMED" in before and "Confirmed by" not in before
    client.post(f"/ecg/{fid}/confirm", headers=clinic["cardio"], json={})
    after = _text(client.get(f"/ecg/{fid}/report.pdf", headers=clinic["clin"]).data)
    assert "Confirmed by cardio_a on " in after and "UNCONFIRMED" not in after
