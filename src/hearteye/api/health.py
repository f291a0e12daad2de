"""Probes: /live (the process answers), /ready (it can serve: database and storage reachable;
503 otherwise, so a load balancer stops sending traffic), /health (the details)."""

from __future__ import annotations

import logging

from apiflask import APIBlueprint
from flask import current_app

from hearteye.api import db
from hearteye.api.errors import error_response
from hearteye.api.schemas import ErrorOut, HealthOut, StatusOut
from hearteye.version import __version__

bp = APIBlueprint("health", __name__, tag="Health")
log = logging.getLogger("hearteye.api")


def _checks() -> dict[str, str]:
    svc = current_app.extensions["hearteye"]
    out = {}
    try:
        db.ping(svc.engine)
        out["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the log says which
        log.warning("health: database unreachable: %s", type(exc).__name__)
        out["database"] = "unavailable"
    try:
        svc.storage.ping()
        out["storage"] = "ok"
    except Exception as exc:
        log.warning("health: storage unreachable: %s", exc)
        out["storage"] = "unavailable"
    return out


def model_versions() -> dict:
    """Versions of the shipped models, as `hearteye.analyze` reports them."""
    import hearteye.analyze as analyze_module

    report = getattr(analyze_module, "model_versions", None)
    if report is not None:
        try:
            return dict(report())
        except Exception as exc:  # a missing model file must not take the health page down
            log.warning("health: model versions unavailable: %s", exc)
    out = {}
    for name, probe in (("delineator", _delineator_version), ("classifier", _classifier_version)):
        try:
            out[name] = probe()
        except Exception as exc:  # same: report it, keep answering
            log.warning("health: %s unavailable: %s", name, exc)
            out[name] = "unavailable"
    return out


def _delineator_version() -> str:
    from hearteye.analyze import delineator_version

    return str(delineator_version())


def _classifier_version() -> str:
    from hearteye.classify import get_classifier

    return str(get_classifier().version)


@bp.get("/live")
@bp.output(StatusOut)
def live():
    """Liveness: the process answers."""
    return {"status": "alive"}


@bp.get("/ready")
@bp.output(StatusOut)
@bp.doc(
    responses={
        503: {
            "description": "database or storage unreachable",
            "content": {"application/json": {"schema": ErrorOut}},
        }
    }
)
def ready():
    """Readiness: the database and the storage answer."""
    checks = _checks()
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready"}
    down = ", ".join(k for k, v in checks.items() if v != "ok")
    return error_response(
        f"not ready: {down} unreachable", "not_ready", 503, checks, {"Retry-After": "5"}
    )


@bp.get("/health")
@bp.output(HealthOut)
def health():
    """Service status, version, model versions, database and storage."""
    checks = _checks()
    ok = all(v == "ok" for v in checks.values())
    return {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "models": model_versions(),
        **checks,
    }
