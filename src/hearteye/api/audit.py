"""The audit trail: every change to a record or a team, who made it, when, before and after.

Append-only, enforced three times over:
- no API route or service function updates or deletes an `AuditEvent`;
- the ORM refuses it: a flush that would update or delete one, and an ORM ``update()`` or
  ``delete()`` statement on the table, raise `AuditAppendOnly` (listeners below);
- the database refuses it: the 0002 migration adds triggers that abort UPDATE and DELETE
  (and TRUNCATE on PostgreSQL), which also stops hand-written SQL.

An event is added to the same session as the change it records, so both commit together or
neither does. The actor's name is copied into the event: the trail still reads after the
account is gone. The values are what the record held (notes, statements), kept in the
database, never logged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Update, event
from sqlalchemy.orm import Session

from hearteye.api.errors import ApiError
from hearteye.api.models import AuditEvent, User, utcnow


class AuditAppendOnly(ApiError):
    code = "audit_append_only"
    http_status = 409


def record(
    session: Session,
    actor: User | None,
    team_id: int,
    action: str,
    *,
    file_id: str | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Add one event to ``session`` (committed with the change it describes)."""
    ev = AuditEvent(
        team_id=team_id,
        ecg_file_id=file_id,
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.username if actor is not None else "system",
        at=utcnow(),
        action=action,
        before=before,
        after=after,
    )
    session.add(ev)
    return ev


def _refuse(*_args, **_kwargs):
    raise AuditAppendOnly("the audit trail is append-only: its events cannot be changed")


event.listen(AuditEvent, "before_update", _refuse)
event.listen(AuditEvent, "before_delete", _refuse)


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_changes(state) -> None:
    stmt = state.statement
    if isinstance(stmt, Update | Delete) and getattr(stmt, "table", None) is not None:
        if stmt.table.name == AuditEvent.__tablename__:
            _refuse()
