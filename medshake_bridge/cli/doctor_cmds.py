"""``medshake-bridge doctor``: the system information page on the command line.

It runs the same checks (:func:`~medshake_bridge.sysinfo.run_system_checks`), prints them
grouped with the fixes and the snippets to paste (sudoers lines, systemd override), and exits
with status 1 when a check is broken, so a deployment script or a monitoring probe can use it.
Warnings do not fail.
"""

from __future__ import annotations

import sys

import click
from flask import current_app

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.sysinfo import SystemReport, run_system_checks

LABELS = {True: "ok", None: "WARNING", False: "BROKEN"}
CATEGORY_TITLES = {
    "security": "Instance and secrets", "plugins": "Plugins", "folders": "Folders",
    "mail": "Mail servers", "scheduler": "Scheduler", "apicrypt_v1": "Apicrypt v1",
    "apicrypt_v2": "Apicrypt v2", "medshakeehr": "MedShakeEHR", "general": "Other",
}


def _line(check: CheckResult, *, color: bool) -> list[str]:
    label = f"{LABELS[check.ok]:<7}"
    if color:
        label = click.style(label, fg={True: "green", None: "yellow", False: "red"}[check.ok],
                            bold=check.ok is False)
    lines = [f"  {label} {check.name}" + (f": {check.detail}" if check.detail else "")]
    if check.ok is not True and check.fix:
        lines.append(f"          fix: {check.fix}")
    return lines


def format_report(report: SystemReport, *, quiet: bool = False, color: bool = False) -> str:
    """The report as text; ``quiet`` leaves out the checks that passed."""
    out = []
    for group in report.groups:
        shown = [c for c in group.checks if not (quiet and c.ok is True)]
        if not shown:
            continue
        out.append(f"[{CATEGORY_TITLES.get(group.category, group.category)}]")
        for check in shown:
            out.extend(_line(check, color=color))
        out.append("")
    for advice in report.advice:
        out.append(f"[{advice.title}]")
        out.append(f"  {advice.why}:")
        out.extend(f"    {line}" for line in advice.lines)
        out.append("")
    verdict = (f"{report.broken} broken" if report.broken else "nothing broken")
    out.append(f"{verdict}, {report.warnings} warning(s), {report.passed} ok "
               f"({report.elapsed:.1f} s).")
    return "\n".join(out)


@bridge_group.command("doctor")
@click.option("--quiet", "-q", is_flag=True, help="Show only warnings and broken checks.")
@click.option("--account", default=None,
              help="Account named in the sudoers lines (default: the one running doctor).")
def doctor(quiet: bool, account: str | None) -> None:
    """Check the installation (folders, programs, keys, companion, mail servers...).

    Exits with status 1 when a check is broken; warnings do not fail.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = run_system_checks(app, account=account)
    click.echo(format_report(report, quiet=quiet, color=sys.stdout.isatty()))
    if report.exit_code:
        sys.exit(report.exit_code)
