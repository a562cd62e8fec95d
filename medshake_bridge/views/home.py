"""The page after login: who you are, what you can open, what needs attention."""

from __future__ import annotations

from flask import Blueprint, render_template

from medshake_bridge.access import USER, can_admin, current_bridge_user, protect
from medshake_bridge.extension import bridge_state
from medshake_bridge.users import list_users

home_pages = protect(Blueprint("bridge_home", __name__), USER)


@home_pages.route("/")
def index() -> str:
    user = current_bridge_user()
    state = bridge_state()
    mailbox = state.settings.effective("apicryptAdresse", user_id=user.id)
    failed_plugins = [r for r in state.plugins.values() if r.status == "failed"]
    admin_facts = None
    if can_admin(user):
        users = list_users()
        admin_facts = {
            "users": len(users),
            "active": sum(1 for u in users if u.active),
            "failed_plugins": failed_plugins,
        }
    return render_template("bridge/home.html", mailbox=mailbox, admin_facts=admin_facts)
