"""Overread and confirmation, the worklist and the audit trail of a record.

Rules, and why:
- A record is ``unconfirmed`` until a cardiologist confirms it. Only the cardiologist role
  edits the reading (adds, removes or rewrites statements and the overall line) and
  confirms; other roles get 403, another team gets 404.
- The machine's interpretation is never changed: it stays in the record's ``summary``
  (``statements``, ``interpretation``); the edited one is kept beside it in ``overread``.
  A summary made before statements existed reads as an empty machine interpretation.
- Editing a confirmed record sends it back to ``unconfirmed``: what was confirmed is no
  longer what the record says, so it needs confirming again (both are in the audit trail).
- A statement the cardiologist leaves as it was keeps its code, SNOMED code and category;
  a rewritten or added one is free text (no code), so the comparison with later ECGs still
  matches unchanged machine statements by code.
- Every change is one audit event (`hearteye.api.audit`) committed with it; a request that
  changes nothing writes nothing.
- The worklist is the team's unconfirmed records, oldest first (who waited longest).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import defer

from hearteye.api import audit, db
from hearteye.api.errors import Conflict
from hearteye.api.models import CONFIRMED, UNCONFIRMED, AuditEvent, Ecg, User, utcnow
from hearteye.api.services import ecgs, teams

MAX_STATEMENTS = 50
STATEMENT_FIELDS = ("code", "snomed", "text", "category", "severity")


@dataclass(frozen=True)
class Reading:
    """An interpretation: statements and the overall line."""

    statements: tuple[dict, ...]
    overall: str

    def to_dict(self) -> dict:
        return {"statements": [dict(s) for s in self.statements], "overall": self.overall}


def machine_reading(ecg: Ecg) -> Reading:
    summary = ecg.summary or {}
    statements = tuple(_clean(s) for s in summary.get("statements") or [] if _clean(s))
    interp = summary.get("interpretation")
    overall = interp.get("overall") if isinstance(interp, dict) else interp
    return Reading(statements, str(overall or ""))


def current_reading(ecg: Ecg) -> Reading:
    """The cardiologist's reading when there is one, else the machine's."""
    if ecg.overread:
        return Reading(
            tuple(_clean(s) for s in ecg.overread.get("statements") or []),
            str(ecg.overread.get("overall") or ""),
        )
    return machine_reading(ecg)


def _clean(s) -> dict | None:
    if isinstance(s, str):
        return {"code": "", "text": s.strip()} if s.strip() else None
    if not isinstance(s, dict) or not (s.get("text") or s.get("code")):
        return None
    return {k: s[k] for k in STATEMENT_FIELDS if s.get(k) not in (None, "")}


def edited(ecg: Ecg, statements: list[dict], overall: str) -> Reading:
    """The new reading: statements as sent, each keeping the machine's code and details
    when its text is the machine's own (or its code is sent)."""
    known = {}
    for s in machine_reading(ecg).statements + current_reading(ecg).statements:
        known.setdefault(_norm(s.get("text", "")), s)
        if s.get("code"):
            known.setdefault("code:" + s["code"], s)
    out = []
    for s in statements:
        text = " ".join(str(s.get("text") or "").split())
        if not text:
            continue
        base = known.get("code:" + str(s.get("code"))) if s.get("code") else None
        base = base or known.get(_norm(text))
        merged = dict(base) if base and _norm(base.get("text", "")) == _norm(text) else {}
        merged["text"] = text
        if s.get("severity"):
            merged["severity"] = s["severity"]
        out.append({k: merged[k] for k in STATEMENT_FIELDS if merged.get(k)})
    return Reading(tuple(out), " ".join(overall.split()))


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def set_reading(user: User, file_id: str, statements: list[dict], overall: str) -> Ecg:
    """Replace the reading (cardiologists only); a confirmed record becomes unconfirmed."""
    ecg = ecgs.find(user, file_id)  # another team's record: 404 before any role check
    teams.require(user, "confirm", "edit the interpretation")
    _apply(user, ecg, edited(ecg, statements, overall))
    db.session().commit()
    return ecg


def _apply(user: User, ecg: Ecg, new: Reading) -> None:
    old = current_reading(ecg)
    if new == old:
        return
    before = {**old.to_dict(), "status": ecg.status}
    ecg.overread = new.to_dict()
    if ecg.status == CONFIRMED:
        ecg.status, ecg.confirmed_by, ecg.confirmed_at = UNCONFIRMED, None, None
    after = {**new.to_dict(), "status": ecg.status}
    audit.record(
        db.session(), user, ecg.team_id, "ecg.reading_changed", file_id=ecg.file_id,
        before=before, after=after,
    )  # fmt: skip


def confirm(user: User, file_id: str, statements: list[dict] | None, overall: str | None) -> Ecg:
    """Confirm the record (cardiologists only), after applying an edit if one is sent."""
    ecg = ecgs.find(user, file_id)
    teams.require(user, "confirm", "confirm a record")
    if statements is not None or overall is not None:
        cur = current_reading(ecg)
        _apply(
            user,
            ecg,
            edited(
                ecg,
                list(cur.statements) if statements is None else statements,
                cur.overall if overall is None else overall,
            ),
        )
    if ecg.status == CONFIRMED:
        raise Conflict(
            "this record is already confirmed; edit its reading to change it",
            code="already_confirmed",
            details={"file_id": file_id},
        )
    if ecg.overread is None:  # confirmed as the machine read it: keep that as the reading
        ecg.overread = machine_reading(ecg).to_dict()
    ecg.status, ecg.confirmed_by, ecg.confirmed_at = CONFIRMED, user.id, utcnow()
    audit.record(
        db.session(), user, ecg.team_id, "ecg.confirmed", file_id=file_id,
        before={"status": UNCONFIRMED}, after={"status": CONFIRMED, **ecg.overread},
    )  # fmt: skip
    db.session().commit()
    return ecg


def worklist(user: User, page: int, per_page: int) -> tuple[list[Ecg], int]:
    """The team's unconfirmed records, oldest first, and how many there are."""
    base = select(Ecg).where(Ecg.team_id == user.team_id, Ecg.status == UNCONFIRMED)
    s = db.session()
    total = int(s.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    q = (
        base.options(defer(Ecg.summary), defer(Ecg.comparison), defer(Ecg.overread))
        .order_by(Ecg.upload_date.asc(), Ecg.id.asc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(s.execute(q).scalars()), total


def trail(user: User, file_id: str) -> list[AuditEvent]:
    """The record's audit events, oldest first (the record must be the team's)."""
    ecgs.find(user, file_id)
    q = (
        select(AuditEvent)
        .where(AuditEvent.ecg_file_id == file_id, AuditEvent.team_id == user.team_id)
        .order_by(AuditEvent.id)
    )
    return list(db.session().execute(q).scalars())


def team_trail(user: User, limit: int) -> list[AuditEvent]:
    """The team's events, newest first (admins): deleted records and role changes too."""
    teams.require(user, "manage_team", "read the team's audit trail")
    q = (
        select(AuditEvent)
        .where(AuditEvent.team_id == user.team_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session().execute(q).scalars())
