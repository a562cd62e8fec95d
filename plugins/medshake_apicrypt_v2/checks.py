"""What the system information page, the mailbox page and ``doctor`` ask about Apicrypt v2.

Plain functions returning :class:`~medshake_bridge.interfaces.CheckResult` lists or small
dataclasses, so the pages (built elsewhere) and ``doctor`` show the same facts:

* :func:`companion_status` -- ping + health in one call, never raising (for a status panel and
  the *Apicrypt 2 mailbox* page, which lists ``status.health.mailboxes``);
* :func:`site_checks` -- companion up/down, health, spool folder, private ``/tmp``, whether the
  companion sees the spool, the restart command;
* :func:`certificate_checks` -- one user's certificate settings and expiry;
* :func:`private_tmp_status` -- whether this process runs with systemd's ``PrivateTmp``.

Why the private ``/tmp`` check: the companion and the web side exchange files by path; a web
server started with ``PrivateTmp=true`` sees its own ``/tmp``, so a spool there would be empty
for the companion. The spool must not be in ``/tmp`` anyway, and the check says why.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medshake_apicrypt_v2.client import CompanionClient, HealthReply, PingReply
from medshake_apicrypt_v2.errors import (
    RESTART_FIX,
    ApicryptV2ConfigError,
    CompanionError,
)
from medshake_bridge.api import BridgeError, CheckResult
from medshake_bridge.api import today as bridge_today

if TYPE_CHECKING:
    from medshake_apicrypt_v2.backend import ApicryptV2Backend

CATEGORY = "apicrypt_v2"
TMP_FOLDERS = (Path("/tmp"), Path("/var/tmp"))  # noqa: S108 - we detect them, never use them
EXPIRY_WARNING_DAYS = 30
MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class PrivateTmpStatus:
    """``private``: True (systemd ``PrivateTmp``), False (shared ``/tmp``), None (unknown)."""

    private: bool | None
    detail: str


@dataclass(frozen=True)
class CompanionStatus:
    """The companion as seen now: ``up`` when the ping answered ``toc``.

    ``error`` is the typed error when it did not (its ``fix`` is what to show); ``health`` may
    still be ``None`` when the ping worked but the health report failed (``health_error``).
    """

    url: str
    up: bool
    ping: PingReply | None = None
    health: HealthReply | None = None
    error: BridgeError | None = None
    health_error: BridgeError | None = None


def _check(name: str, ok: bool | None, detail: str = "", fix: str = "") -> CheckResult:
    return CheckResult(name=name, ok=ok, detail=detail, fix="" if ok else fix, category=CATEGORY)


def private_tmp_status(mountinfo: Path = MOUNTINFO) -> PrivateTmpStatus:
    """Detect systemd's ``PrivateTmp`` from this process's mount table.

    systemd bind-mounts ``/tmp/systemd-private-<id>-<unit>/tmp`` over ``/tmp`` (and likewise
    ``/var/tmp``); the mount's root field shows it.
    """
    try:
        lines = mountinfo.read_text("utf-8", errors="replace").splitlines()
    except OSError as exc:
        return PrivateTmpStatus(None, f"cannot read {mountinfo} ({exc.strerror})")
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        root, mount_point = fields[3], fields[4]
        if mount_point in {str(p) for p in TMP_FOLDERS} and "systemd-private-" in root:
            return PrivateTmpStatus(True, f"{mount_point} is a private mount ({root})")
    return PrivateTmpStatus(False, "the system's /tmp is shared (no PrivateTmp)")


def _under_tmp(folder: Path) -> Path | None:
    resolved = folder.resolve()
    for tmp in TMP_FOLDERS:
        if resolved == tmp or tmp in resolved.parents:
            return tmp
    return None


def spool_checks(spool: Path, private_tmp: PrivateTmpStatus | None = None) -> list[CheckResult]:
    """The spool exists (or can be created) and is writable, and is not in ``/tmp``."""
    private_tmp = private_tmp or private_tmp_status()
    results = []
    if not str(spool).strip() or str(spool) == ".":
        return [_check("Apicrypt v2 spool folder", False, "apicrypt2Spool is empty",
                       "Set apicrypt2Spool to a folder shared with the companion (not /tmp).")]
    existing = spool
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    writable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    state = "writable" if writable else "NOT writable"
    detail = f"{spool} ({state})" if existing == spool else (
        f"{spool} will be created in {existing} ({state})")
    results.append(_check(
        "Apicrypt v2 spool folder", writable, detail,
        f"Make {existing} writable by the bridge's account (and readable and writable by the "
        "companion's), or change apicrypt2Spool."))
    tmp = _under_tmp(spool)
    if tmp is not None:
        results.append(_check(
            "Apicrypt v2 spool outside /tmp", False if private_tmp.private else None,
            f"{spool} is under {tmp}"
            + (" and this process has a private /tmp" if private_tmp.private else ""),
            "Move apicrypt2Spool to a folder of the instance (e.g. <instance>/data/"
            "apicrypt2-spool): /tmp is cleaned by the system and, with systemd's PrivateTmp, "
            "not shared with the companion."))
    results.append(_check(
        "Private /tmp", True if private_tmp.private is False else None, private_tmp.detail,
        "The web process runs with systemd's PrivateTmp: keep the spool outside /tmp, or set "
        "PrivateTmp=false in the unit (docs/apicrypt-v2.md)."))
    return results


def companion_status(url: str, token: str = "", *, timeout: float = 5.0,
                     certificate: str | None = None, probe: str | None = None
                     ) -> CompanionStatus:
    """Ping, then ask for health; never raises (errors are in the result)."""
    try:
        client = CompanionClient(url, token, timeout=timeout)
    except ApicryptV2ConfigError as exc:
        return CompanionStatus(url=url, up=False, error=exc)
    try:
        ping = client.ping()
    except CompanionError as exc:
        return CompanionStatus(url=url, up=False, error=exc)
    try:
        health = client.health(certificate=certificate, probe=probe)
    except CompanionError as exc:
        return CompanionStatus(url=url, up=True, ping=ping, health_error=exc)
    return CompanionStatus(url=url, up=True, ping=ping, health=health)


def _status_checks(status: CompanionStatus, probing: bool) -> list[CheckResult]:
    if not status.up:
        error = status.error
        return [_check("Apicrypt v2 companion", False,
                       error.message if error is not None else "no answer",
                       error.fix if error is not None else RESTART_FIX)]
    assert status.ping is not None
    results = [_check("Apicrypt v2 companion", True,
                      f"{status.url} answered 'toc' in {status.ping.elapsed * 1000:.0f} ms")]
    if status.health is None:
        error = status.health_error
        results.append(_check("Apicrypt v2 companion health", False,
                              error.message if error else "no health report",
                              error.fix if error else RESTART_FIX))
        return results
    health = status.health
    results.append(_check(
        "Apicrypt v2 companion health", health.healthy,
        f"version {health.version or 'unknown'}"
        + (f"; {'; '.join(health.problems)}" if health.problems else "")
        + f"; {len(health.mailboxes)} mailbox(es)",
        "Read the problems above; a renewed certificate or a restart of the companion may be "
        "needed."))
    if probing:
        seen = health.spool_probe
        results.append(_check(
            "Companion sees the spool", seen,
            {True: "the companion read a file the bridge wrote in the spool",
             False: "the companion cannot see a file the bridge wrote in the spool",
             None: "the companion does not report whether it sees the spool"}[seen],
            "Give the bridge and the companion the same spool folder (apicrypt2Spool), outside "
            "/tmp, readable and writable by both accounts; check PrivateTmp (docs/apicrypt-v2.md)."
            if seen is False else ""))
    return results


def companion_checks_for(settings: Mapping[str, Any], *, certificate: str | None = None,
                         private_tmp: PrivateTmpStatus | None = None) -> list[CheckResult]:
    """Companion up/down and health, spool folder, private ``/tmp``, companion sees the spool."""
    from medshake_apicrypt_v2.backend import config_from_settings

    config = config_from_settings(settings)
    results = []
    spool = Path(config.spool).absolute() if str(config.spool).strip() not in {"", "."} else Path()
    probe_file: Path | None = None
    probe_rel = None
    if spool.is_dir() and os.access(spool, os.W_OK | os.X_OK):
        fd, name = tempfile.mkstemp(prefix="probe-", dir=spool)
        os.close(fd)
        probe_file = Path(name)
        probe_rel = probe_file.name
    try:
        status = companion_status(config.companion_url, config.companion_token,
                                  timeout=min(config.timeout, 5.0), certificate=certificate,
                                  probe=probe_rel)
    finally:
        if probe_file is not None:
            probe_file.unlink(missing_ok=True)
    results.extend(_status_checks(status, probing=probe_rel is not None))
    if certificate and status.health is not None:
        results.append(certificate_expiry_check(certificate, status.health))
    results.extend(spool_checks(spool, private_tmp))
    return results


def companion_checks(backend: ApicryptV2Backend) -> list[CheckResult]:
    """:func:`companion_checks_for` for one back-end's settings and certificate."""
    config = backend.config
    return companion_checks_for(
        {"apicrypt2CompanionUrl": config.companion_url,
         "apicrypt2CompanionToken": config.companion_token,
         "apicrypt2Spool": str(config.spool), "apicrypt2CompanionTimeout": config.timeout},
        certificate=config.cert_name or None)


def certificate_state(name: str, health: HealthReply, today: date | None = None
                      ) -> tuple[str, date | None]:
    """What the companion says of certificate ``name``: ``unknown``, ``expired``, ``soon``
    (within :data:`EXPIRY_WARNING_DAYS` of the bridge's today) or ``valid``, and its end date.

    One judgement for the system checks and the keys page, so the two never disagree."""
    report = health.certificate if (
        health.certificate is not None and health.certificate.certificate == name) else None
    if report is None:
        report = next((m for m in health.mailboxes if m.certificate == name), None)
    if report is None or report.raw.get("missing"):
        return "unknown", None
    today = today or bridge_today()
    expires = report.expires
    if report.expired:
        return "expired", expires
    if expires is not None and expires - today <= timedelta(days=EXPIRY_WARNING_DAYS):
        return "soon", expires
    return "valid", expires


def certificate_expiry_check(name: str, health: HealthReply, today: date | None = None
                             ) -> CheckResult:
    """Whether the companion knows certificate ``name`` and how long it stays valid."""
    kind, expires = certificate_state(name, health, today)
    check_name = f"Apicrypt v2 certificate {name}"
    if kind == "unknown":
        return _check(check_name, False, "the companion does not know this certificate",
                      "Install the certificate in the companion or correct apicrypt2CertName.")
    if kind == "expired":
        return _check(check_name, False,
                      f"expired{f' on {expires.isoformat()}' if expires else ''}",
                      "Install the renewed certificate from APICEM, then update "
                      "apicrypt2CertName / apicrypt2CertPassword if they changed.")
    if kind == "soon" and expires is not None:
        return _check(check_name, None, f"expires on {expires.isoformat()}",
                      "Ask APICEM for the renewed certificate now.")
    return _check(check_name, True,
                  f"valid until {expires.isoformat()}" if expires else "valid")


def certificate_checks(backend: ApicryptV2Backend) -> list[CheckResult]:
    """One user's certificate settings (without contacting the companion)."""
    config = backend.config
    name_ok = bool(config.cert_name)
    return [
        _check("Apicrypt v2 certificate name", name_ok,
               f"apicrypt2CertName = {config.cert_name!r}",
               "Set apicrypt2CertName to the certificate name given by APICEM."),
        _check("Apicrypt v2 certificate password", bool(config.cert_password),
               "set (stored encrypted)" if config.cert_password else "not set",
               "Set apicrypt2CertPassword on the user's settings."),
    ]


def site_checks(settings: Mapping[str, Any]) -> list[CheckResult]:
    """Everything machine-wide for v2: companion, spool, private ``/tmp``, restart command.

    ``settings`` are the site-level (default) values; per-user certificates are checked by
    each user's back-end (:func:`certificate_checks`, :func:`companion_checks`).
    """
    from medshake_apicrypt_v2.service import restart_argv

    results = companion_checks_for(settings)
    if not settings.get("apicrypt2CompanionToken"):
        results.append(_check(
            "Apicrypt v2 companion token", None, "apicrypt2CompanionToken is empty",
            "Set apicrypt2CompanionToken to the companion's token so no other local program "
            "can use it."))
    try:
        argv = restart_argv(settings)
        results.append(_check("Apicrypt v2 restart command", True, " ".join(argv)))
    except ApicryptV2ConfigError as exc:
        results.append(_check("Apicrypt v2 restart command", False, exc.message, exc.fix))
    results.append(long_code_check(settings))
    return results


def long_code_check(settings: Mapping[str, Any]) -> CheckResult:
    """Say plainly whether the long code of a .aes key is visible in `ps` while it is opened."""
    from medshake_apicrypt_v2.service import code_on_command_line

    name = ".aes long code and process list"
    if not code_on_command_line(settings):
        return _check(name, True, "apicrypt2AesCommand passes the long code in a private file "
                      "({code_file}), never on the command line")
    return _check(
        name, None,
        "APICEM's ApiV2AESUtility takes the long code as a command-line argument: while a .aes "
        "key is opened (a fraction of a second), any local account can see the code with `ps`, "
        "and sudo logs it when apicryptCommandPrefix uses sudo",
        "Run the bridge under a dedicated account on a machine without other users, mount /proc "
        "with hidepid=2, or use a wrapper that reads the code from a file: set "
        "apicrypt2AesCommand to '<wrapper> {source} {destination} {code_file}'.")
