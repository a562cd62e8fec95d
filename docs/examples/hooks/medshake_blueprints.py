from flask import Blueprint

from medshake_bridge.api import ADMIN, current_user, hookimpl, protect

my_pages = protect(Blueprint("my_plugin", __name__, url_prefix="/my-plugin"), ADMIN)


@my_pages.route("/")
def index():
    return f"Bonjour {current_user().display_name}"


@hookimpl
def medshake_blueprints(app):
    return [my_pages]
