"""Serving the bridge: gunicorn in production, Werkzeug's development server only on request.

Why gunicorn: it is the WSGI server most Flask deployments already run, it is pure Python (no
compiler on the clinic's server), and its pre-fork workers isolate a crashing request. The app
built by the CLI is served as is (no second import by module path), so the instance folder and
configuration are the ones the command was given.

Each worker starts the embedded scheduler (mode ``embedded``) after it is forked: the scheduler's
leader lock makes exactly one of them run the jobs, and no thread ever exists in the master
process when it forks (a thread's locks copied into a child can deadlock it).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from medshake_bridge.db import app_database
from medshake_bridge.scheduler.service import start_embedded


class BridgeServer(BaseApplication):
    """Gunicorn serving one already-built Flask app."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # options of newer gunicorns are skipped on older ones
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve_with_gunicorn(app: Flask, *, host: str, port: int, workers: int, threads: int,
                        timeout: int = 120) -> None:
    """Serve ``app`` until the master process is stopped (SIGTERM, SIGINT)."""
    schedulers: dict[int, Any] = {}

    def post_fork(server: Any, worker: Any) -> None:
        database = app_database(app)
        if database.owned and database.engine is not None:
            database.engine.dispose(close=False)  # the master's connections stay the master's

    def post_worker_init(worker: Any) -> None:
        schedulers[worker.pid] = start_embedded(app)

    def worker_exit(server: Any, worker: Any) -> None:
        service = schedulers.pop(worker.pid, None)
        if service is not None:
            service.stop()

    BridgeServer(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": timeout,
        "accesslog": "-",
        "post_fork": post_fork,
        "post_worker_init": post_worker_init,
        "worker_exit": worker_exit,
        "proc_name": "medshake-bridge",
        # gunicorn >= 25.1 opens a control socket in $HOME (shared by every gunicorn of the
        # account): the bridge writes only in its own folders, and several instances may run
        "control_socket_disable": True,
    }).run()
