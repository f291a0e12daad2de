"""The clinic's pages through Flask's test client: worklist, patients and the patient's ECG
timeline, the overread editor (CSRF, roles, escaping), and another team's pages as 404."""

from __future__ import annotations

import re

from .api_helpers import PASSWORD, bearer, login, register
from .test_web_pages import XSS, _csrf, _upload


def _sign_in_as(client, username: str, invitation: str | None = None) -> str:
    body = {"username": username, "email": f"{username}@example.org", "password": PASSWORD}
    if invitation:
        body["invitation"] = invitation
    assert client.post("/auth/register", json=body).status_code == 201
    token = _csrf(client)
    resp = client.post(
        "/signin", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert resp.status_code == 302
    return _csrf(client, "/")


def _invitation(client, admin_name: str, role: str) -> str:
    headers = bearer(login(client, admin_name)["access_token"])
    return client.post("/team/invitations", headers=headers, json={"role": role}).json["token"]


def test_worklist_patient_timeline_and_overread(app):
    clin = app.test_client()
    register(clin, "boss")
    token = _sign_in_as(clin, "nurse", _invitation(clin, "boss", "clinician"))
    first = _upload(clin, token, name=XSS, mrn="MRN-7")
    second = _upload(clin, token, name=XSS, record="119", mrn="MRN-7")
    # The worklist: both, oldest first, the name escaped.
    html = clin.get("/clinic/worklist").get_data(as_text=True)
    assert html.index(first) < html.index(second) and XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # The patient and their timeline, newest first, with the comparison.
    html = clin.get("/clinic/patients").get_data(as_text=True)
    pid = re.search(r'href="/clinic/patients/(\d+)"', html).group(1)
    html = clin.get(f"/clinic/patients/{pid}").get_data(as_text=True)
    assert html.index(second) < html.index(first)
    assert "When compared with ECG of " in html
    # A clinician sees the reading but no editor, and cannot post one.
    html = clin.get(f"/records/{second}").get_data(as_text=True)
    assert "Reading: unconfirmed" in html and "Confirm the reading" not in html
    resp = clin.post(
        f"/records/{second}/reading",
        data={"csrf_token": token, "statements": "x", "action": "confirm"},
    )
    assert resp.status_code == 403

    cardio = app.test_client()
    ctoken = _sign_in_as(cardio, "heart", _invitation(cardio, "boss", "cardiologist"))
    assert "Confirm the reading" in cardio.get(f"/records/{second}").get_data(as_text=True)
    # Without the CSRF token nothing changes.
    bad = cardio.post(f"/records/{second}/reading", data={"statements": "x", "action": "confirm"})
    assert bad.status_code == 400
    resp = cardio.post(
        f"/records/{second}/reading",
        data={
            "csrf_token": ctoken,
            "statements": f"Sinus rhythm\n\n{XSS}\n",
            "overall": "Abnormal ECG",
            "action": "confirm",
        },
    )
    assert resp.status_code == 302
    html = cardio.get(f"/records/{second}").get_data(as_text=True)
    assert "Reading: confirmed" in html and XSS not in html
    assert "ecg.reading_changed" in html and "ecg.confirmed" in html
    listed = cardio.get("/clinic/worklist").get_data(as_text=True)
    assert first in listed and second not in listed

    # Another team: every page of these records and this patient is a 404.
    other = app.test_client()
    otoken = _sign_in_as(other, "stranger")
    for path in (f"/records/{second}", f"/clinic/patients/{pid}"):
        assert other.get(path).status_code == 404
    resp = other.post(f"/records/{second}/reading", data={"csrf_token": otoken, "statements": "x"})
    assert resp.status_code == 404
    assert second not in other.get("/clinic/worklist").get_data(as_text=True)
    assert "MRN-7" not in other.get("/clinic/patients").get_data(as_text=True)


def test_sign_up_with_an_invitation_joins_the_team(app):
    client = app.test_client()
    register(client, "boss")
    invitation = _invitation(client, "boss", "cardiologist")
    token = _csrf(client, "/signup")
    form = {
        "csrf_token": token,
        "username": "newdoc",
        "email": "newdoc@example.org",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    bad = client.post("/signup", data={**form, "invitation": "no-such-token"})
    assert bad.status_code == 400 and "unknown, expired or already used" in bad.get_data(
        as_text=True
    )
    assert client.post("/signup", data={**form, "invitation": invitation}).status_code == 302
    headers = bearer(login(client, "newdoc")["access_token"])
    team = client.get("/team", headers=headers).json
    assert team["role"] == "cardiologist" and {m["username"] for m in team["members"]} == {
        "boss",
        "newdoc",
    }
    again = client.post(
        "/signup",
        data={**form, "username": "thirddoc", "email": "t@example.org", "invitation": invitation},
    )
    assert again.status_code == 400  # single-use


def test_team_page_invites_and_changes_roles_for_admins_only(app):
    admin = app.test_client()
    token = _sign_in_as(admin, "chief")
    resp = admin.post(
        "/clinic/team/invitations", data={"csrf_token": token, "role": "cardiologist"}
    )
    assert resp.status_code == 201
    invitation = re.search(r'id="invitation-token">([^<]+)<', resp.get_data(as_text=True)).group(1)
    assert "invitation-token" not in admin.get("/clinic/team").get_data(as_text=True)  # once
    member = app.test_client()
    mtoken = _sign_in_as(member, "doc", invitation)
    html = member.get("/clinic/team").get_data(as_text=True)
    assert "chief" in html and "Make an invitation" not in html
    uid = re.search(
        r"/clinic/team/members/(\d+)/role", admin.get("/clinic/team").get_data(as_text=True)
    )
    assert uid is not None
    members = {
        m["username"]: m["id"]
        for m in admin.get("/team", headers=bearer(login(admin, "chief")["access_token"])).json[
            "members"
        ]
    }
    # The member cannot change roles or invite; the admin can; no CSRF token, no change.
    path = f"/clinic/team/members/{members['doc']}/role"
    assert member.post(path, data={"csrf_token": mtoken, "role": "admin"}).status_code == 403
    assert (
        member.post(
            "/clinic/team/invitations", data={"csrf_token": mtoken, "role": "admin"}
        ).status_code
        == 403
    )
    assert admin.post(path, data={"role": "clinician"}).status_code == 400
    assert admin.post(path, data={"csrf_token": token, "role": "clinician"}).status_code == 302
    assert "doc is now clinician" in admin.get("/clinic/team").get_data(as_text=True)
    # Another team's admin: 404 for this member.
    other = app.test_client()
    otoken = _sign_in_as(other, "elsewhere")
    assert other.post(path, data={"csrf_token": otoken, "role": "admin"}).status_code == 404
