"""The web app in a real browser (Debian's Chromium driven by Playwright), against a real
server: the whole session a clinician has, at laptop and tablet widths, with axe-core's
accessibility check on every page, no console errors and no failed requests other than the
intended ones. Each checked page is saved to out/screenshots/ (not committed) for a person to
look at."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
XSS_NAME = "<img src=x onerror=alert(1)>"
PASSWORD = "a long enough password"
PERCENT = re.compile(r"Uploading… (\d+) %$")


class Session:
    """A page with what the browser reported: console errors, failed and refused requests."""

    def __init__(self, page, base: str, shots: Path):
        self.page, self.base, self.shots = page, base, shots
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        self.error_responses: list[tuple[int, str]] = []
        self.dialogs: list[str] = []
        self.minor: list[str] = []  # every axe finding, reported (serious ones also fail)
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.method} {r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.error_responses.append((r.status, r.url)),
        )

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)

    def check(self, name: str) -> None:
        """Screenshot the page and run axe-core on it: no serious or critical violation."""
        from axe_playwright_python.sync_playwright import Axe

        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        violations = Axe().run(self.page).response["violations"]
        self.minor += [f"{name}: {v['id']} ({v['impact']})" for v in violations]
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in violations
            if v.get("impact") in ("serious", "critical")
        ]
        assert not bad, f"{name}: accessibility violations:\n" + "\n".join(bad)


def _zip_of(*paths: Path) -> dict:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in paths:
            zf.write(p, p.name)
    return {"name": "ludb_1.zip", "mimeType": "application/zip", "buffer": buf.getvalue()}


def _fill_patient(page, name: str, age: str = "", sex: str = "") -> None:
    page.get_by_label("Patient name").fill(name)
    if age:
        page.get_by_label("Age (years)").fill(age)
    if sex:
        page.get_by_label("Sex").select_option(sex)


def _submit_and_open(s: Session) -> float:
    """Click upload; wait for the result page with its plot drawn and the lead viewer ready.
    Returns seconds from the click to that."""
    page = s.page
    t0 = time.perf_counter()
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_url("**/records/*", timeout=30_000)
    page.wait_for_function(
        "() => { const i = document.getElementById('plot');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    page.wait_for_selector("#viewer.ready", timeout=30_000)
    return time.perf_counter() - t0


def _drop_file(page, path: Path) -> None:
    """Drag and drop: a real DataTransfer holding the file, dropped on the drop zone."""
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, {type: "application/octet-stream"}));
            return dt;
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode()],
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def _result_checks(page, patient: str) -> None:
    assert page.locator("h1").inner_text() == f"ECG of {patient}"
    table = page.locator("table.measurements").first
    assert "Heart rate" in table.inner_text() and "bpm" in table.inner_text()
    assert page.locator("#verdict-heading").inner_text().startswith("Verdict: ")
    width = page.evaluate("document.getElementById('plot').naturalWidth")
    assert width > 1000, width


def _beat_number(page) -> int:
    return int(re.search(r"Beat\s+(\d+) of", page.locator("#beat-info").inner_text()).group(1))


def _go(page, role: str, name: str) -> None:
    """Click a link or button that loads a new page, and wait for that page."""
    with page.expect_navigation():
        page.get_by_role(role, name=name, exact=True).click()


def _show(page) -> None:
    """Apply the history filters and wait for the new page."""
    _go(page, "button", "Show")


@pytest.mark.slow
def test_whole_session_in_chromium(browser, server, screenshots):
    context = browser.new_context(viewport=LAPTOP, base_url=server)
    page = context.new_page()
    s = Session(page, server, screenshots)
    timings: dict[str, float] = {}

    # The service answers / with the app: anonymous visitors get the sign-in page.
    page.goto("/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    s.check("01-signin")

    _go(page, "link", "Create one")
    page.get_by_label("User name", exact=True).fill("dr.who")
    page.get_by_label("E-mail address").fill("dr.who@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    s.check("02-signup")
    _go(page, "button", "Create the account")
    assert "Account created" in page.locator(".flashes").inner_text()

    page.get_by_label("User name or e-mail").fill("dr.who")
    page.get_by_label("Password").fill(PASSWORD)
    _go(page, "button", "Sign in")
    assert page.get_by_role("heading", name="Upload an ECG").is_visible()
    s.check("03-upload")

    # 1. LUDB record 1 as one .zip, through the file chooser.
    ludb = FIXTURES / "ludb"
    _fill_patient(page, "Jane Doe", "51", "F")
    page.get_by_label("ECG files").set_input_files([_zip_of(ludb / "1.hea", ludb / "1.dat")])
    assert "ludb_1.zip" in page.locator("#file-list").inner_text()
    timings["zip"] = _submit_and_open(s)
    _result_checks(page, "Jane Doe")
    # Clicking a beat in the lead viewer shows its intervals.
    box = page.locator("#lead-canvas").bounding_box()
    page.get_by_role("button", name="Next beat").click()
    assert "PR interval" in page.locator("#beat-info").inner_text()
    page.get_by_role("button", name="Zoom in").click()
    page.locator("#lead-canvas").click(position={"x": box["width"] * 0.3, "y": box["height"] / 2})
    info = page.locator("#beat-info").inner_text()
    assert "QRS duration" in info and " ms" in info, info
    # The viewer works from the keyboard too: focus the trace, step to a beat, zoom out.
    page.locator("#lead-canvas").focus()
    page.keyboard.press("Home")
    before = _beat_number(page)
    page.keyboard.press("]")
    assert _beat_number(page) == before + 1
    page.keyboard.press("-")
    assert "from 0.0 to 10.0 s" in page.locator("#lead-canvas").get_attribute("aria-label")
    s.check("04-result-zip")
    result_url = page.url

    # 2. The same record as its .hea and .dat (two files), under a hostile patient name.
    _go(page, "link", "Upload")
    _fill_patient(page, XSS_NAME)
    page.get_by_label("ECG files").set_input_files([ludb / "1.hea", ludb / "1.dat"])
    timings["hea_dat"] = _submit_and_open(s)
    _result_checks(page, XSS_NAME)  # shown as text ...
    assert page.locator("img[src='x']").count() == 0  # ... never as markup
    s.check("05-result-hea-dat")

    # 3. An EDF (LUDB record 119, a normal ECG), dropped on the drop zone, sent over a slow
    # link so that the progress bar has something to show: "Uploading... n %", "Analysing...".
    _go(page, "link", "Upload")
    _fill_patient(page, "Edgar Edf", "40", "M")
    _drop_file(page, FIXTURES / "edf" / "ludb_119.edf")
    assert "ludb_119.edf" in page.locator("#file-list").inner_text()
    labels: list[str] = []
    page.expose_function("reportProgress", lambda text: labels.append(text))  # survives reloads
    page.evaluate(
        """() => { const label = document.getElementById("progress-label");
        new MutationObserver(() => window.reportProgress(label.textContent))
            .observe(label, {childList: true, characterData: true, subtree: true}); }"""
    )
    cdp = context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 64_000},
    )
    _submit_and_open(s)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    _result_checks(page, "Edgar Edf")
    percents = [int(m.group(1)) for m in map(PERCENT.match, labels) if m]
    assert any(0 < p < 100 for p in percents), labels
    assert percents == sorted(percents) and "Analysing…" in labels, labels
    assert labels.index("Analysing…") > labels.index(f"Uploading… {percents[-1]} %"), labels

    # 4. A file that is no ECG: the service's message, as written, next to the file.
    _go(page, "link", "Upload")
    _fill_patient(page, "Nobody")
    page.get_by_label("ECG files").set_input_files(
        [{"name": "letter.txt", "mimeType": "text/plain", "buffer": b"Dear colleague,\n"}]
    )
    with page.expect_response("**/upload") as refused:
        page.get_by_role("button", name="Upload and analyse").click()
    message = refused.value.json()["error"]
    assert refused.value.status in (400, 415, 422)
    page.locator("#upload-error").wait_for(state="visible")
    assert page.locator("#upload-error").inner_text() == message
    s.check("06-upload-error")
    intended = {(refused.value.status, refused.value.url)}

    # History: search, filter, sort.
    _go(page, "link", "History")
    assert page.locator("table.records tbody tr").count() == 3
    page.get_by_label("Search by patient").fill("jane")
    _show(page)
    assert page.locator("table.records tbody tr").count() == 1
    page.get_by_label("Search by patient").fill("")
    page.get_by_label("Order").select_option("patient")
    _show(page)
    names = page.locator("table.records tbody th a").all_inner_texts()
    assert names == sorted(names, key=str.lower) and XSS_NAME in names, names
    s.check("07-history")
    # The shipped models' verdicts: LUDB 1 (sinus bradycardia, LVH) abnormal, 119 normal.
    page.get_by_label("Verdict").select_option("Normal")
    _show(page)
    assert page.locator("table.records tbody th a").all_inner_texts() == ["Edgar Edf"]
    page.get_by_label("Verdict").select_option("Abnormal")
    _show(page)
    assert set(page.locator(".verdict-tag").all_inner_texts()) == {"Abnormal"}
    assert page.locator("table.records tbody tr").count() == 2

    # The record page from the history: notes, then delete with confirmation.
    page.get_by_label("Verdict").select_option("")
    page.get_by_label("Search by patient").fill("jane")
    _show(page)
    _go(page, "link", "Jane Doe")
    assert page.url == result_url
    page.get_by_label("Notes on this ECG").fill("Sinus bradycardia; review with echo.")
    _go(page, "button", "Save the notes")
    assert "Notes saved" in page.locator(".flashes").inner_text()
    assert page.get_by_label("Notes on this ECG").input_value().startswith("Sinus bradycardia")

    # Tablet width: the same pages, checked again.
    page.set_viewport_size(TABLET)
    s.check("08-result-tablet")
    page.goto("/records")
    s.check("09-history-tablet")
    page.goto("/")
    s.check("10-upload-tablet")
    page.set_viewport_size(LAPTOP)

    page.goto(result_url)
    _go(page, "link", "Delete this ECG…")
    s.check("11-delete-confirm")
    _go(page, "button", "Delete the ECG")
    assert "deleted" in page.locator(".flashes").inner_text()
    assert page.locator("table.records tbody tr").count() == 2

    _go(page, "button", "Sign out")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.goto("/records")
    assert page.get_by_role("heading", name="Sign in").is_visible()  # signed out for good

    context.close()
    assert s.dialogs == [], s.dialogs  # the hostile name never ran
    assert s.failed == [], s.failed
    assert set(s.error_responses) <= intended, s.error_responses
    unexpected = [m for m in s.console_errors if f"status of {refused.value.status}" not in m]
    assert len(s.console_errors) <= 1 and not unexpected, s.console_errors
    (screenshots / "timings.json").write_text(json.dumps(timings, indent=2))
    print("upload click -> result shown (s):", json.dumps(timings))
    print("axe findings of any impact:", s.minor or "none")
