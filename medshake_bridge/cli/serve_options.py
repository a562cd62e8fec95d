"""How ``run`` and ``demo`` serve: the same options, gunicorn unless ``--debug``.

Werkzeug's development server is for a developer's machine only (one process, tracebacks in
the log); both commands reach it only through ``--debug``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from werkzeug.serving import run_simple

from medshake_bridge.scheduler.service import embedded_scheduler


def server_options(*, workers: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--host``, ``--port``, ``--workers`` (default ``workers``), ``--threads``, ``--debug``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([
            click.option("--host", default="127.0.0.1", show_default=True),
            click.option("--port", default=8000, show_default=True, type=int),
            click.option("--workers", default=workers, show_default=True,
                         type=click.IntRange(1, 64), help="Worker processes (gunicorn)."),
            click.option("--threads", default=4, show_default=True,
                         type=click.IntRange(1, 256), help="Threads per worker."),
            click.option("--debug", is_flag=True,
                         help="Werkzeug's development server, one process, tracebacks in the "
                              "log; never in production."),
        ]):
            command = option(command)
        return command

    return decorate


def serve_app(app: Flask, *, host: str, port: int, workers: int, threads: int,
              debug: bool, name: str = "medshake-bridge") -> None:
    """Serve ``app`` until stopped: gunicorn, or Werkzeug's development server with ``debug``
    (then the embedded scheduler runs in this process: ``app.run()`` is a no-op under the
    flask CLI)."""
    if debug:
        click.echo(f"{name} (development server) on http://{host}:{port}/")
        with embedded_scheduler(app):
            run_simple(host, port, app, use_reloader=False, threaded=True)
        return
    from medshake_bridge.cli.serving import serve_with_gunicorn

    click.echo(f"{name} on http://{host}:{port}/ (gunicorn, {workers} worker(s) x "
               f"{threads} thread(s))")
    serve_with_gunicorn(app, host=host, port=port, workers=workers, threads=threads)
