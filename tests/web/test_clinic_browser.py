"""The clinic's pages in a real browser (Chromium via Playwright) against a real server: a
cardiologist's worklist, the record's overread editor (edit, then confirm), the patients list
and one patient's ECG timeline with the comparison, the admin's team page; axe-core on every
page, no console errors, no failed requests. Accounts and uploads are made through the JSON
API (the upload page has its own browser test), so the browser time goes to the new pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .test_web_browser import LAPTOP, PASSWORD, Session, _go

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _account(base: str, name: str, invitation: str | None = None) -> dict:
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    if invitation:
        body["invitation"] = invitation
    assert requests.post(f"{base}/auth/register", json=body, timeout=10).status_code == 201
    tok = requests.post(
        f"{base}/auth/login", json={"username": name, "password": PASSWORD}, timeout=10
    ).json()["access_token"]
    return {"Authorization": f"Bearer {tok}"}


def _upload(base: str, headers: dict, record: str, mrn: str) -> str:
    ludb = FIXTURES / "ludb"
    files = [
        ("file", (f"{record}.{ext}", (ludb / f"{record}.{ext}").read_bytes()))
        for ext in ("hea", "dat")
    ]
    resp = requests.post(
        f"{base}/predict",
        headers=headers,
        files=files,
        data={"patient_name": "Jane <b>Doe</b>", "mrn": mrn, "age": "61", "gender": "F"},
        timeout=60,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["file_id"]


@pytest.mark.slow
def test_worklist_overread_and_patient_timeline(browser, server, screenshots):
    admin = _account(server, "chief")
    invite = requests.post(
        f"{server}/team/invitations", headers=admin, json={"role": "cardiologist"}, timeout=10
    ).json()["token"]
    cardio = _account(server, "dr.heart", invite)
    older = _upload(server, cardio, "1", "MRN-42")
    newer = _upload(server, cardio, "119", "MRN-42")

    context = browser.new_context(viewport=LAPTOP, base_url=server)
    page = context.new_page()
    s = Session(page, server, screenshots)
    page.goto("/signin")
    page.get_by_label("User name or e-mail").fill("dr.heart")
    page.get_by_label("Password").fill(PASSWORD)
    _go(page, "button", "Sign in")

    _go(page, "link", "Worklist")
    rows = page.locator("table.records tbody th a")
    assert rows.count() == 2
    assert [
        h.split("/records/")[1].split("#")[0]
        for h in rows.evaluate_all("a => a.map(x => x.getAttribute('href'))")
    ] == [older, newer]
    s.check("20-worklist")

    with page.expect_navigation():
        rows.nth(1).click()
    assert page.locator("#reading-heading").inner_text() == "Reading: unconfirmed"
    assert "When compared with ECG of " in page.locator("#comparison-heading + p").inner_text()
    page.get_by_label("Statements (one per line)").fill("Sinus rhythm\nLeft axis deviation")
    page.get_by_label("Overall").fill("Abnormal ECG")
    s.check("21-overread-editor")
    _go(page, "button", "Confirm the reading")
    assert "confirmed" in page.locator(".flashes").inner_text()
    assert page.locator("#reading-heading").inner_text() == "Reading: confirmed"
    assert "ecg.confirmed" in page.locator("#audit-heading + .table-wrap").inner_text()
    s.check("22-record-confirmed")

    _go(page, "link", "Patients")
    assert page.locator("table.records tbody th a").inner_text() == "MRN-42"
    s.check("23-patients")
    _go(page, "link", "MRN-42")
    items = page.locator("ol.timeline > li")
    assert items.count() == 2 and "confirmed" in items.nth(0).inner_text()
    assert page.locator("h1").inner_text() == "Jane <b>Doe</b>"  # text, not markup
    s.check("24-patient-timeline")

    _go(page, "link", "Worklist")
    assert page.locator("table.records tbody tr").count() == 1

    # The admin's team page: members with their roles, an invitation made and shown once.
    _go(page, "button", "Sign out")
    page.get_by_label("User name or e-mail").fill("chief")
    page.get_by_label("Password").fill(PASSWORD)
    _go(page, "button", "Sign in")
    _go(page, "link", "Team")
    page.get_by_label("Role", exact=True).select_option("clinician")
    with page.expect_navigation():
        page.get_by_role("button", name="Make an invitation").click()
    assert len(page.locator("#invitation-token").inner_text()) > 30
    assert page.get_by_label("Role of dr.heart").input_value() == "cardiologist"
    s.check("25-team-admin")
    context.close()
    assert s.console_errors == [] and s.failed == [] and s.error_responses == []
