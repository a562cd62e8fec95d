"""*Extensions*: every plugin with its version, hooks and load error; enable / disable.

Disabling writes the ``bridgeDisabledPlugins`` setting, read when the app starts: the change
applies at the next restart, and the page says so. The host's own default plugins cannot be
disabled (the product would lose its pages).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.audit import audit
from medshake_bridge.default_plugins import DEFAULT_PLUGINS
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _

plugin_pages = protect(Blueprint("bridge_plugins", __name__, url_prefix="/admin/plugins"),
                       ADMIN)
SETTING = "bridgeDisabledPlugins"


def _disabled() -> list[str]:
    return list(bridge_state().settings.get(SETTING) or [])


@plugin_pages.route("/")
def index() -> str:
    state = bridge_state()
    records = sorted(state.plugins.values(), key=lambda r: (not r.builtin, r.name))
    failures = {record.name: state.hooks.recent_failures(record.name, limit=5)
                for record in records}
    return render_template("bridge/plugins.html", records=records, disabled=set(_disabled()),
                           host_plugins=set(DEFAULT_PLUGINS),
                           suspended=state.hooks.suspensions(), failures=failures)


@plugin_pages.route("/reenable", methods=["POST"])
def reenable() -> Response:
    """Lift the suspension of a plugin whose hooks kept failing (applies at once)."""
    name = request.form.get("name", "")
    state = bridge_state()
    if name not in state.plugins or not state.hooks.reenable(name):
        abort(404)
    audit("plugin.reenable", target=name)
    flash(_("%(name)s is enabled again: its hooks are called from now on.", name=name),
          "success")
    return redirect(url_for(".index"))


@plugin_pages.route("/toggle", methods=["POST"])
def toggle() -> Response:
    name = request.form.get("name", "")
    state = bridge_state()
    if name not in state.plugins or name in DEFAULT_PLUGINS:
        abort(404)
    disabled = _disabled()
    if name in disabled:
        disabled.remove(name)
        action, message = "plugin.enable", _("%(name)s will be loaded at the next restart.",
                                             name=name)
    else:
        disabled.append(name)
        action, message = "plugin.disable", _("%(name)s will not be loaded from the next "
                                              "restart.", name=name)
    state.settings.set(SETTING, disabled)
    audit(action, target=name)
    flash(message + " " + _("Restart the bridge to apply it."), "success")
    return redirect(url_for(".index"))
