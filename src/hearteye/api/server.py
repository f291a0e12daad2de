"""`hearteye serve`: prepare the database and storage once, then run gunicorn.

Migrations and the orphan reconciliation run here, in the master process before any worker
starts, so workers never race on schema changes; each worker then builds its own app with
`create_app()` (no app preloading: database connections must not be shared across forks).
"""

from __future__ import annotations

import logging
import os

from hearteye.api.config import Settings
from hearteye.parallel import default_workers

log = logging.getLogger("hearteye.api")


def prepare(settings: Settings) -> dict:
    """Migrate the database and remove orphan stored files. Returns the reconcile report."""
    from hearteye.api import db
    from hearteye.api.reconcile import reconcile_orphans
    from hearteye.api.storage import make_storage

    engine = db.make_engine(settings.resolved_database_url)
    try:
        db.upgrade(engine)
        return reconcile_orphans(
            db.make_sessionmaker(engine), make_storage(settings), settings.orphan_grace_s
        )
    finally:
        engine.dispose()


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    threads: int = 4,
    timeout: int = 120,
) -> None:
    from gunicorn.app.base import BaseApplication

    settings = Settings.from_env().validate()
    prepare(settings)

    class _App(BaseApplication):
        def load_config(self):
            options = {
                "bind": f"{host}:{port}",
                # analyze is CPU-bound: one process per core; threads inside each keep light
                # requests (health, history) answering while a worker analyses an upload.
                "workers": workers or default_workers(),
                "threads": threads,
                "worker_class": "gthread",
                "timeout": timeout,
                "graceful_timeout": 30,
                "accesslog": "-",
                "errorlog": "-",
                # Recycle workers now and then: bounds any slow leak in native libraries.
                "max_requests": 5000,
                "max_requests_jitter": 500,
                "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                "limit_request_line": 8190,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from hearteye.analyze import load_models
            from hearteye.api import create_app

            # Migrations ran above; workers skip them. The models load as the worker starts,
            # so its first upload does not wait for them.
            app = create_app(auto_migrate=False)
            load_models()
            return app

    _App().run()
