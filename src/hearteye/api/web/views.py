"""The web app's routes: each parses the request, calls a service, and renders a page (or,
for the upload and the lead viewer's data, answers JSON to the page's script).

Pages that need a signed-in user send anyone else to the sign-in page, with the reason
(session expired, signed out) and the page to come back to. The upload answers JSON when
the page's script sends it (``X-Requested-With: XMLHttpRequest``) and redirects otherwise, so
the form also works without JavaScript.
"""

from __future__ import annotations

import functools
import math
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import ValidationError
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

from hearteye.api.errors import Conflict, error_response
from hearteye.api.models import ROLES
from hearteye.api.schemas import MAX_NOTES, PredictIn, RegisterIn
from hearteye.api.services import exports as files
from hearteye.api.services.teams import InvitationInvalid
from hearteye.api.web import WEB_CSP, bp, present, service
from hearteye.api.web.session import (
    check_csrf,
    csrf_token,
    sign_in,
    sign_out,
    signed_in_user,
)
from hearteye.errors import HeartEyeError
from hearteye.report import PAPERS

_WHY_SIGN_IN = {
    "expired": "Your session has expired; sign in again.",
    "signed_out": "You were signed out; sign in again.",
    "account_gone": "That account no longer exists.",
}
PER_PAGE = 20


# ------------------------------------------------------------------------- plumbing


def _xhr() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = WEB_CSP
    if resp.mimetype in ("text/html", "application/json"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.context_processor
def _template_globals():
    user, _ = signed_in_user()
    return {"csrf_token": csrf_token, "user": user}


@bp.before_request
def _csrf():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf()


def signed_in(view):
    """The view needs a signed-in user (``g.user``); others go to the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user, reason = signed_in_user()
        if user is None:
            message = _WHY_SIGN_IN.get(reason or "", "Sign in to continue.")
            if _xhr() or request.path.endswith(".json"):
                return error_response(message, "signed_out", 401)
            flash(message, "info")
            return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
        g.user = user
        return view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL or ``//host`` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return url_for("web.home")
    return target


@bp.errorhandler(HeartEyeError)
def _typed_error(err: HeartEyeError):
    if _xhr() or request.path.endswith(".json"):
        return error_response(err.message, err.code, err.http_status, err.details)
    return render_template("error.html", message=err.message), err.http_status


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    status = err.code or 500
    if status == 413:
        limit = request.max_content_length
        message = f"the upload exceeds {(limit or 0) >> 20} MiB; send a shorter recording or zip it"
    elif status == 429:
        message = "too many attempts; wait a minute and try again"
    else:
        message = err.description or err.name
    if _xhr() or request.path.endswith(".json"):
        return error_response(message, err.name.lower().replace(" ", "_"), status)
    return render_template("error.html", message=message), status


# ------------------------------------------------------------------------- accounts


@bp.get("/")
def home():
    user, _ = signed_in_user()
    if user is None:
        return signin_page()
    return render_template("upload.html", max_mb=request.max_content_length >> 20)


@bp.get("/signin")
def signin_page():
    user, reason = signed_in_user()
    if user is not None:
        return redirect(_safe_next(request.args.get("next")))
    if reason:
        flash(_WHY_SIGN_IN[reason], "info")
    return render_template("signin.html", next=request.args.get("next", ""), username="")


@bp.post("/signin")
def signin():
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    user = (
        service.authenticate(username, password)
        if username and password and len(username) <= 254 and len(password) <= 256
        else None
    )
    if user is None:
        return render_template(
            "signin.html",
            error="Wrong user name or password.",
            next=target,
            username=username,
        ), 401
    sign_in(user)
    return redirect(_safe_next(target))


@bp.get("/signup")
def signup_page():
    return render_template("signup.html", values={}, errors={})


@bp.post("/signup")
def signup():
    values = {k: request.form.get(k, "") for k in ("username", "email")}
    invitation = request.form.get("invitation", "").strip() or None
    try:
        body = RegisterIn().load(
            {**values, "password": request.form.get("password", ""), "invitation": invitation},
            unknown="exclude",
        )
    except ValidationError as exc:
        errors = {k: " ".join(map(str, v)) for k, v in exc.messages.items()}
        return render_template("signup.html", values=values, errors=errors), 400
    if body["password"] != request.form.get("password2", ""):
        errors = {"password2": "The two passwords differ."}
        return render_template("signup.html", values=values, errors=errors), 400
    try:
        service.create_user(body["username"], body["email"], body["password"], invitation)
    except Conflict as exc:
        return render_template("signup.html", values=values, errors={"form": exc.message}), 409
    except InvitationInvalid as exc:
        errors = {"invitation": exc.message}
        return render_template("signup.html", values=values, errors=errors), 400
    flash("Account created. Sign in with your new user name and password.", "success")
    return redirect(url_for("web.signin_page"))


@bp.post("/signout")
def signout():
    sign_out()
    flash("You are signed out.", "success")
    return redirect(url_for("web.signin_page"))


# --------------------------------------------------------------------------- upload


@bp.post("/upload")
@signed_in
def upload():
    try:
        form = PredictIn().load(CombinedMultiDict([request.form, request.files]))
        if not form["patient_name"]:  # the page asks for it (the API may take it from the file)
            raise ValidationError({"patient_name": ["Missing data for required field."]})
    except ValidationError as exc:
        fields = {k: " ".join(map(str, v)) for k, v in exc.messages.items()}
        message = "; ".join(
            f"{'file' if k == 'file' else k.replace('_', ' ')}: {v}" for k, v in fields.items()
        )
        if _xhr():
            return error_response(message, "validation_error", 400, {"fields": fields})
        return render_template(
            "upload.html", max_mb=request.max_content_length >> 20, error=message
        ), 400
    patient = service.PatientForm.from_form(form)
    files = [(f.filename or "", f.read()) for f in form["file"]]
    ecg, _summary = service.create_ecg(g.user, patient, files)
    url = url_for("web.record", file_id=ecg.file_id)
    if _xhr():
        return jsonify({"file_id": ecg.file_id, "url": url}), 201
    return redirect(url)


# -------------------------------------------------------------------------- records


@bp.get("/records")
@signed_in
def history():
    args = request.args
    query = service.HistoryQuery(
        search=args.get("q", "").replace("\x00", "")[:200],
        verdict=args.get("verdict", "") if args.get("verdict") in service.VERDICTS else "",
        sort=args.get("sort", "newest") if args.get("sort") in service.SORTS else "newest",
        page=max(1, min(_int(args.get("page"), 1), 1_000_000)),
        per_page=PER_PAGE,
    )
    rows, total = service.search_history(g.user, query)
    pages = max(1, math.ceil(total / PER_PAGE))
    return render_template(
        "history.html",
        rows=rows,
        total=total,
        query=query,
        pages=pages,
        sorts={k: v[0] for k, v in service.SORTS.items()},
        verdicts=service.VERDICTS,
        confidence=service.confidence,
    )


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw or default)
    except ValueError:
        return default


@bp.get("/records/<file_id>")
@signed_in
def record(file_id: str):
    ecg = service.find(g.user, file_id)
    summary = ecg.summary or {}
    waves, amplitude_rows = present.lead_amplitudes(summary)
    return render_template(
        "record.html",
        ecg=ecg,
        summary=summary,
        confidence=service.confidence(ecg),
        measurements=present.measurement_rows(summary),
        device=present.device_rows(summary),
        statements=present.statements(summary),
        interpretation=present.interpretation(summary),
        waves=waves,
        amplitude_rows=amplitude_rows,
        has_device="device_measurements" in summary,
        has_interpretation="statements" in summary or "interpretation" in summary,
        machine=service.machine_reading(ecg),
        reading=service.current_reading(ecg),
        comparison=ecg.comparison,
        trail=service.audit_trail(g.user, file_id),
        may_confirm=g.user.may("confirm"),
        may_delete=service.may_delete(g.user, ecg),
    )


@bp.get("/records/<file_id>/plot.png")
@signed_in
def plot(file_id: str):
    png = service.plot_png(service.find(g.user, file_id))
    resp = Response(png, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


# Downloads: the same files as the API's export routes (`hearteye.api.services.exports`).
_DOWNLOADS = {
    "report.pdf": lambda ecg: files.report_pdf(ecg, request.args.get("paper", "a4")),
    "fhir.json": lambda ecg: files.fhir_bundle(ecg, waveform=True),
    "ecg.dcm": files.dicom_waveform,
    "measurements.csv": files.measurements_csv,
}


@bp.get("/records/<file_id>/download/<kind>")
@signed_in
def download(file_id: str, kind: str):
    make = _DOWNLOADS.get(kind)
    if make is None or request.args.get("paper", "a4") not in PAPERS:
        abort(404)
    return make(service.find(g.user, file_id))


@bp.get("/records/<file_id>/leads.json")
@signed_in
def leads(file_id: str):
    ecg = service.find(g.user, file_id)
    payload = service.leads_payload(ecg)
    payload["lead_beats"] = (ecg.summary or {}).get("lead_beats", {})
    return jsonify(payload)


@bp.post("/records/<file_id>/notes")
@signed_in
def notes(file_id: str):
    text = request.form.get("notes", "").replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTES or "\x00" in text:
        flash(f"Notes are limited to {MAX_NOTES} characters; they were not saved.", "error")
    else:
        service.set_notes(g.user, file_id, text or None)
        flash("Notes saved.", "success")
    return redirect(url_for("web.record", file_id=file_id) + "#notes")


@bp.get("/records/<file_id>/delete")
@signed_in
def delete_page(file_id: str):
    return render_template("delete.html", ecg=service.find(g.user, file_id))


@bp.post("/records/<file_id>/delete")
@signed_in
def delete(file_id: str):
    service.delete(g.user, file_id)
    flash("The ECG was deleted.", "success")
    return redirect(url_for("web.history"))


# ------------------------------------------------------------------ clinic workflow
# Under /clinic/: /worklist and /patients are the JSON API's (bearer token) paths.


@bp.get("/clinic/worklist")
@signed_in
def worklist():
    page = max(1, min(_int(request.args.get("page"), 1), 1_000_000))
    rows, total = service.worklist(g.user, page, PER_PAGE)
    return render_template(
        "worklist.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
    )


@bp.get("/clinic/patients")
@signed_in
def patients():
    search = request.args.get("q", "").replace("\x00", "")[:200]
    return render_template(
        "patients.html", rows=service.patient_listing(g.user, search), search=search
    )


@bp.get("/clinic/patients/<int:patient_id>")
@signed_in
def patient(patient_id: int):
    person, rows = service.patient_ecgs(g.user, patient_id)
    return render_template("patient.html", patient=person, rows=rows)


def _reading_form() -> tuple[list[dict], str] | None:
    """The overread form: one statement per line, and the overall line; None if too long."""
    lines = [" ".join(line.split()) for line in request.form.get("statements", "").splitlines()]
    statements = [{"text": line} for line in lines if line]
    overall = " ".join(request.form.get("overall", "").split())
    if len(statements) > 50 or any(len(s["text"]) > 500 for s in statements):
        return None
    if len(overall) > 1000 or "\x00" in request.form.get("statements", "") + overall:
        return None
    return statements, overall


@bp.post("/records/<file_id>/reading")
@signed_in
def reading(file_id: str):
    parsed = _reading_form()
    if parsed is None:
        flash("At most 50 statements of 500 characters, and an overall line of 1000.", "error")
    elif request.form.get("action") == "confirm":
        service.confirm(g.user, file_id, *parsed)
        flash("The reading is confirmed.", "success")
    else:
        service.set_reading(g.user, file_id, *parsed)
        flash("The reading is saved (not confirmed).", "success")
    return redirect(url_for("web.record", file_id=file_id) + "#reading")


@bp.get("/clinic/team")
@signed_in
def team():
    return _team_page()


def _team_page(invitation=None, status: int = 200):
    return render_template(
        "team.html",
        team=service.team_of(g.user),
        members=service.team_members(g.user),
        roles=ROLES,
        may_manage=g.user.may("manage_team"),
        invitation=invitation,
    ), status


@bp.post("/clinic/team/invitations")
@signed_in
def team_invite():
    role = request.form.get("role", "")
    if role not in ROLES:
        flash("Choose a role for the invitation.", "error")
        return redirect(url_for("web.team"))
    # The token is shown on this one page, once; only its hash is stored.
    return _team_page(invitation=service.invite(g.user, role, None), status=201)


@bp.post("/clinic/team/members/<int:user_id>/role")
@signed_in
def team_role(user_id: int):
    role = request.form.get("role", "")
    if role not in ROLES:
        flash("Choose one of the roles.", "error")
    else:
        member = service.set_role(g.user, user_id, role)
        flash(f"{member.username} is now {member.role}.", "success")
    return redirect(url_for("web.team"))
