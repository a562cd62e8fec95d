"""The plugin's page: *Journal*, the received messages of the signed-in user."""

from __future__ import annotations

from flask import Blueprint, render_template

from medshake_bridge.api import USER, current_user, protect
from medshake_bridge_example import journal

example_pages = protect(Blueprint("example", __name__, url_prefix="/example",
                                  template_folder="templates"), USER)


@example_pages.route("/")
def index() -> str:
    user = current_user()
    return render_template("example/index.html", entries=journal.entries(user.id), user=user)
