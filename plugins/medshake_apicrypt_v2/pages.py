"""The v2 plugin's admin pages: *Apicrypt 2 mailboxes* and the companion's restart.

They belong to the plugin (like its checks) and reach the host only through its public
pieces: the access module (admins only, 404 for anyone else), the audit log, CSRF on POST, the
settings store and the program runner.

* ``/admin/apicrypt2/``: what the companion reports per mailbox (certificate, expiry, key
  years...), with a clear message and the fix when it does not answer;
* ``/admin/apicrypt2/restart``: GET shows the exact command (an argument list, never a shell)
  and the sudoers lines it needs; POST runs it through the runner, audits who asked and the
  outcome, and shows the exit status, output and whether the companion answers afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template

from medshake_apicrypt_v2.backend import config_from_settings
from medshake_apicrypt_v2.checks import CompanionStatus, companion_status
from medshake_apicrypt_v2.errors import ApicryptV2ConfigError
from medshake_apicrypt_v2.service import restart_argv, restart_companion, sudoers_lines
from medshake_bridge.api import (
    ADMIN,
    ProgramResult,
    ProgramRunError,
    audit,
    program_runner,
    protect,
    service_account,
    settings,
    users,
)

apicrypt2_pages = protect(
    Blueprint("bridge_apicrypt2", __name__, url_prefix="/admin/apicrypt2",
              template_folder="templates"), ADMIN)
STATUS_TIMEOUT = 5.0


def _site() -> dict[str, Any]:
    return settings().for_user(None)


def _status(site: dict[str, Any]) -> CompanionStatus:
    config = config_from_settings(site)
    return companion_status(config.companion_url, config.companion_token,
                            timeout=min(config.timeout, STATUS_TIMEOUT))


def v2_users() -> dict[str, list[str]]:
    """Certificate name -> logins of the active users whose effective version is 2."""
    store = settings()
    by_certificate: dict[str, list[str]] = {}
    for user in users():
        if str(store.get("apicryptVersion", user_id=user.id)) == "2":
            name = str(store.get("apicrypt2CertName", user_id=user.id) or "")
            by_certificate.setdefault(name, []).append(user.login)
    return by_certificate


def uses_v2() -> bool:
    store = settings()
    if str(store.get("apicryptVersion")) == "2":
        return True
    return any(str(store.get("apicryptVersion", user_id=uid)) == "2"
               for uid in store.users_with("apicryptVersion"))


@apicrypt2_pages.route("/")
def mailboxes() -> str:
    site = _site()
    status = _status(site)
    return render_template("apicrypt_v2/mailboxes.html", status=status, users=v2_users(),
                           known_fields=("certificate", "expires", "expired"))


def _command(site: dict[str, Any]) -> tuple[list[str], ApicryptV2ConfigError | None]:
    try:
        return restart_argv(site), None
    except ApicryptV2ConfigError as exc:
        return [], exc


def account() -> str:
    """The account the sudoers lines name (``apicryptSudoAccount``, else the one running the
    web process)."""
    return service_account(settings().for_user(None, skip_damaged=True))


@apicrypt2_pages.get("/restart")
def restart() -> str:
    site = _site()
    argv, error = _command(site)
    lines = sudoers_lines(account(), site) if argv and Path(argv[0]).name == "sudo" else []
    return render_template("apicrypt_v2/restart.html", argv=argv, error=error,
                           sudoers=lines, result=None, status=None, ran=False)


@apicrypt2_pages.post("/restart")
def restart_now() -> str:
    """Run the restart command (audited with its outcome) and show what it printed."""
    site = _site()
    argv, error = _command(site)
    result: ProgramResult | None = None
    failure: str = ""
    if error is None:
        try:
            result = restart_companion(site, program_runner(site))
        except ProgramRunError as exc:
            result, failure = exc.result, str(exc)
        except ApicryptV2ConfigError as exc:
            failure = str(exc)
    else:
        failure = str(error)
    outcome = "failed" if failure else "ok"
    detail = failure or f"exit status {result.returncode if result else '?'}"
    audit("apicrypt2.restart", target=" ".join(argv) or "apicrypt2RestartCommand",
          outcome=outcome, detail=detail)
    status = _status(site)
    return render_template("apicrypt_v2/restart.html", argv=argv, error=error, sudoers=[],
                           result=result, failure=failure, status=status, ran=True)
