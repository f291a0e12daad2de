"""Teams, roles and invitations.

Rules, and why:
- Every account belongs to one team. Registering without an invitation creates a team of
  one with the registrant as its admin, so a single user works as before.
- An admin adds members by invitation: a random token (256 bits) given once to the admin,
  stored only as its SHA-256, valid for `INVITATION_HOURS` (at most `MAX_INVITATION_HOURS`)
  and for one registration. It is spent by a conditional UPDATE (unused and unexpired), so
  two registrations racing for one token cannot both win.
- Only an admin changes roles, and only in their own team: a member of another team is
  "not found" (404), as records are. The last admin cannot be demoted: a team is never left
  without someone to manage it.
- Every change (team created, member joined, invitation made, role changed) is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from hearteye.api import audit, db
from hearteye.api.errors import ApiError, Conflict, Forbidden, NotFound
from hearteye.api.models import ROLES, Invitation, Team, User, utcnow

INVITATION_HOURS = 72
MAX_INVITATION_HOURS = 24 * 14


class InvitationInvalid(ApiError):
    code = "invitation_invalid"
    http_status = 400


@dataclass(frozen=True)
class NewInvitation:
    token: str  # shown once; only its hash is stored
    invitation: Invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def require(user: User, permission: str, what: str) -> None:
    """`Forbidden` unless the user's role grants ``permission``."""
    if not user.may(permission):
        raise Forbidden(
            f"your role ({user.role}) may not {what}",
            code="role_forbidden",
            details={"role": user.role, "permission": permission},
        )


def new_team(name: str) -> Team:
    team = Team(name=name[:200], created_at=utcnow())
    db.session().add(team)
    return team


def redeem(token: str) -> Invitation:
    """Spend an invitation (in the caller's transaction); `InvitationInvalid` if it is
    unknown, spent or expired."""
    s = db.session()
    now = utcnow()
    h = hash_token(token)
    spent = s.execute(
        update(Invitation)
        .where(Invitation.token_hash == h, Invitation.used_at.is_(None))
        .where(Invitation.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise InvitationInvalid(
            "this invitation is unknown, expired or already used; ask your team's admin "
            "for a new one"
        )
    return s.execute(select(Invitation).where(Invitation.token_hash == h)).scalar_one()


def joined(user: User, invitation: Invitation | None, team: Team | None) -> None:
    """Audit a new account's arrival (after its flush, so it has an id)."""
    s = db.session()
    if invitation is not None:
        invitation.used_by = user.id
        audit.record(
            s,
            user,
            user.team_id,
            "team.member_joined",
            after={"user_id": user.id, "role": user.role, "invitation_id": invitation.id},
        )
    else:
        audit.record(
            s,
            user,
            user.team_id,
            "team.created",
            after={"team_id": user.team_id, "name": team.name if team else None, "admin": user.id},
        )


def invite(admin: User, role: str, hours: float | None) -> NewInvitation:
    require(admin, "manage_team", "invite members")
    if role not in ROLES:
        raise ApiError(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    hours = INVITATION_HOURS if hours is None else hours
    token = secrets.token_urlsafe(32)
    now = utcnow()
    inv = Invitation(
        team_id=admin.team_id,
        token_hash=hash_token(token),
        role=role,
        created_by=admin.id,
        created_at=now,
        expires_at=now + timedelta(hours=min(hours, MAX_INVITATION_HOURS)),
    )
    s = db.session()
    s.add(inv)
    s.flush()
    audit.record(
        s,
        admin,
        admin.team_id,
        "team.invitation_created",
        after={"invitation_id": inv.id, "role": role, "expires_at": inv.expires_at.isoformat()},
    )
    s.commit()
    return NewInvitation(token=token, invitation=inv)


def team_of(user: User) -> Team:
    return db.session().get(Team, user.team_id)


def members(user: User) -> list[User]:
    q = select(User).where(User.team_id == user.team_id).order_by(User.username)
    return list(db.session().execute(q).scalars())


def set_role(admin: User, user_id: int, role: str) -> User:
    require(admin, "manage_team", "change roles")
    s = db.session()
    member = s.get(User, user_id) if 0 < user_id <= 2**31 - 1 else None
    if member is None or member.team_id != admin.team_id:
        raise NotFound(
            f"no member with id {user_id} in your team",
            code="member_not_found",
            details={"user_id": user_id},
        )
    if member.role == role:
        return member
    if member.role == "admin" and _admins(admin.team_id) <= 1:
        raise Conflict(
            "the team's last admin cannot give up the role; make another member admin first",
            code="last_admin",
        )
    before = member.role
    member.role = role
    audit.record(
        s,
        admin,
        admin.team_id,
        "team.role_changed",
        before={"user_id": member.id, "role": before},
        after={"user_id": member.id, "role": role},
    )
    s.commit()
    return member


def _admins(team_id: int) -> int:
    q = select(func.count()).where(User.team_id == team_id, User.role == "admin")
    return int(db.session().execute(q).scalar_one())


def expires_in(inv: Invitation, now: datetime | None = None) -> float:
    return (inv.expires_at - (now or utcnow())).total_seconds()
