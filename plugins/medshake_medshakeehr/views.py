"""The connector's admin page: write-back documents not copied into MedShakeEHR, and a retry.

Linked from the MedShakeEHR group of the system information page. The list shows document
ids, when and why the copy failed (never clinical content); "Retry" copies each one once.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from medshake_bridge.api import ADMIN, _, audit, flash, protect
from medshake_medshakeehr.config import connector_config
from medshake_medshakeehr.pending import pending, retry_pending

copies_pages = protect(Blueprint("bridge_medshakeehr", __name__,
                                 url_prefix="/admin/medshakeehr",
                                 template_folder="templates"), ADMIN)


@copies_pages.get("/copies")
def copies() -> str:
    return render_template("medshakeehr/copies.html", waiting=pending(),
                           write_back=connector_config().write_back)


@copies_pages.post("/copies/retry")
def retry_copies() -> Response:
    report = retry_pending(connector_config())
    audit("medshakeehr.retry_copies", outcome="ok" if not report.failing else "failed",
          detail=f"copied={report.copied} failing={report.failing}")
    if report.failing:
        flash(_("%(copied)s document(s) copied; %(failing)s still not copied: %(reason)s",
                copied=report.copied, failing=report.failing, reason=report.errors[0]),
              "error")
    else:
        flash(_("%(copied)s document(s) copied into MedShakeEHR's inbox; none left.",
                copied=report.copied), "success")
    return redirect(url_for(".copies"))
