"""Team routes: the team and its members, invitations, roles, the team's audit trail.

Each route parses its input, calls `hearteye.api.services.teams` (or `review` for the
trail) and lets its schema shape the answer. Admin-only routes answer 403 to other roles; a
member id of another team answers 404, like an unknown one.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask_jwt_extended import current_user, jwt_required

from hearteye.api.auth import BEARER
from hearteye.api.schemas import (
    AuditEventOut,
    AuditQuery,
    InvitationIn,
    InvitationOut,
    MemberOut,
    RoleIn,
    TeamOut,
)
from hearteye.api.services import review, teams

bp = APIBlueprint("teams", __name__, url_prefix="/team", tag="Team")


@bp.get("")
@jwt_required()
@bp.output(TeamOut)
@bp.doc(security=BEARER)
def get_team():
    """Your team, your role in it, and its members."""
    team = teams.team_of(current_user)
    return {
        "id": team.id,
        "name": team.name,
        "role": current_user.role,
        "members": teams.members(current_user),
    }


@bp.post("/invitations")
@jwt_required()
@bp.input(InvitationIn, arg_name="body")
@bp.output(InvitationOut, status_code=201)
@bp.doc(security=BEARER, responses={403: "only the team's admin invites"})
def invite(body):
    """A single-use, expiring invitation token to join your team with a role (admins)."""
    return teams.invite(current_user, body["role"], body.get("hours"))


@bp.put("/members/<int:user_id>/role")
@jwt_required()
@bp.input(RoleIn, arg_name="body")
@bp.output(MemberOut)
@bp.doc(
    security=BEARER,
    responses={
        403: "only the team's admin changes roles",
        404: "no such member in your team",
        409: "the last admin cannot give up the role",
    },
)
def set_role(user_id, body):
    """Change a member's role (admins)."""
    return teams.set_role(current_user, user_id, body["role"])


@bp.get("/audit")
@jwt_required()
@bp.input(AuditQuery, location="query", arg_name="query")
@bp.output(AuditEventOut(many=True))
@bp.doc(security=BEARER, responses={403: "only the team's admin reads the whole trail"})
def team_audit(query):
    """The team's audit trail, newest first (admins): records (deleted ones included),
    members and roles. Read-only: no route changes or deletes an event."""
    return review.team_trail(current_user, query["limit"])
