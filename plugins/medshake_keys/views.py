"""*Clefs Apicrypt* (admins): one tab per key folder, the key list, upload, delete, ``.aes``.

A folder is named in the URL by its scope (``general`` or ``user-<id>``) and resolved from the
settings; a key by a file name that the manager validates. Nothing from the browser is used as
a path. The page works without JavaScript; ``keys.js`` adds drag-and-drop and an upload
progress bar.

Upload size: the request's own limit is set before anything reads the body (a URL value
preprocessor runs before the access guard, whose CSRF check would otherwise read a 50 MB body
to find the token), so an oversized upload is refused from its ``Content-Length`` alone.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from medshake_bridge.api import ADMIN, _, deny, flash, protect, renewals, settings
from medshake_keys.clock import today
from medshake_keys.errors import CurrentYearKeyError, KeyManagementError
from medshake_keys.expiry import expiry_warnings
from medshake_keys.folders import (
    GENERAL,
    FolderChoice,
    choice_for_scope,
    folder_choices,
    manager_for,
)
from medshake_keys.manager import MAX_KEY_BYTES, ClefsManager
from medshake_keys.names import parse_name

MAX_FILES = 8
# The whole upload request: a few keys and the form's other fields.
MAX_REQUEST_BYTES = MAX_FILES * MAX_KEY_BYTES + 256 * 1024

keys_pages = protect(Blueprint("bridge_keys", __name__, url_prefix="/admin/keys",
                               template_folder="templates", static_folder="static",
                               static_url_path="/static"), ADMIN)


@keys_pages.url_value_preprocessor
def _limit_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Runs before the access guard reads the form: cap the body of every POST here."""
    if request.method == "POST":
        request.max_content_length = MAX_REQUEST_BYTES


@keys_pages.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    """An upload over the cap: explain, change nothing (nothing was read or checked)."""
    flash(_("The upload is larger than %(size)s MB and was refused without being read: a key "
            "file is a few kilobytes. Check that you chose the key files themselves.",
            size=MAX_REQUEST_BYTES // (1024 * 1024)), "error")
    scope = (request.view_args or {}).get("scope", GENERAL)
    return _answer(url_for(".index", scope=scope), status=413)


def _choice(scope: str) -> FolderChoice:
    choice = choice_for_scope(settings(), scope)
    if choice is None:
        deny(f"keys folder {scope}", detail="unknown key folder")
    return choice


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _answer(target: str, *, status: int = 200) -> Response:
    """Redirect a form post; tell the upload script where to go (its messages are flashed)."""
    if _wants_json():
        response = jsonify({"redirect": target})
        response.status_code = status
        return response
    return redirect(target)


def _error(exc: KeyManagementError) -> None:
    flash(f"{exc.message} {exc.fix}".strip(), "error")


@keys_pages.route("/")
def start() -> Response:
    """The menu's entry: the general folder's tab."""
    return redirect(url_for(".index", scope=GENERAL))


@keys_pages.route("/<scope>/")
def index(scope: str) -> str:
    state = settings()
    choice = _choice(scope)
    choices = folder_choices(state)
    if all(c.scope != choice.scope for c in choices):
        choices.append(choice)
    manager = manager_for(state, choice)
    warnings = [w for w in expiry_warnings(state, today())
                if w.watch.keys_dir == choice.keys_dir]
    deadlines = [item for item in renewals()
                 if choice.user is None or choice.user.login in item.logins]
    return render_template(
        "keys/index.html", choice=choice, choices=choices, status=manager.status(),
        keys=manager.list_keys(), aes_available=manager.aes_available(), warnings=warnings,
        renewals=deadlines,
        max_bytes=MAX_KEY_BYTES, max_files=MAX_FILES, year=today().year)


@keys_pages.post("/<scope>/import")
def import_keys(scope: str) -> Response:
    choice = _choice(scope)
    manager = manager_for(settings(), choice)
    files = [f for f in request.files.getlist("key_file") if f.filename or f.content_length]
    target = url_for(".index", scope=scope)
    if not files:
        flash(_("No file was chosen: choose the key files to add, then press “Add”."), "error")
        return _answer(target)
    if len(files) > MAX_FILES:
        flash(_("At most %(count)s files can be added at once; nothing was stored.",
                count=MAX_FILES), "error")
        return _answer(target)
    for upload in files:
        try:
            stored = manager.import_key(upload.filename or "", upload.stream)
        except KeyManagementError as exc:
            _error(exc)
            continue
        flash(_("%(name)s was added to %(folder)s.", name=stored.name,
                folder=str(manager.clefs)), "success")
    return _answer(target)


def _known_key(manager: ClefsManager, name: str) -> str:
    """``name`` when it is a file of this folder's list, else ``''`` (and a flashed error)."""
    if any(key.name == name for key in manager.list_keys()):
        return name
    flash(_("There is no key file %(name)s in this folder; the list below is up to date.",
            name=name[:80]), "error")
    return ""


@keys_pages.route("/<scope>/delete", methods=["GET", "POST"])
def delete(scope: str) -> str | Response:
    choice = _choice(scope)
    manager = manager_for(settings(), choice)
    source = request.form if request.method == "POST" else request.args
    name = source.get("name", "")
    back = url_for(".index", scope=scope)
    if request.method == "GET":
        if not _known_key(manager, name):
            return redirect(back)
        parsed = parse_name(name)
        return render_template("keys/delete.html", choice=choice, name=name,
                               current=manager.is_current_year(parsed), second=False,
                               year=today().year)
    confirmed_twice = source.get("confirm_current_year") == "yes"
    try:
        manager.delete_key(name, confirm_current_year=confirmed_twice)
    except CurrentYearKeyError as exc:
        return render_template("keys/delete.html", choice=choice, name=name, current=True,
                               second=True, problem=exc.message, year=today().year)
    except KeyManagementError as exc:
        _error(exc)
        return redirect(back)
    flash(_("%(name)s was deleted.", name=name), "success")
    return redirect(back)


@keys_pages.route("/<scope>/decrypt", methods=["GET", "POST"])
def decrypt(scope: str) -> str | Response:
    choice = _choice(scope)
    manager = manager_for(settings(), choice)
    back = url_for(".index", scope=scope)
    if not manager.aes_available():
        abort(404)
    source = request.form if request.method == "POST" else request.args
    name = source.get("name", "")
    if request.method == "GET":
        if not _known_key(manager, name):
            return redirect(back)
        return render_template("keys/decrypt.html", choice=choice, name=name)
    try:
        opened = manager.decrypt_aes(name, source.get("code", ""))
    except KeyManagementError as exc:
        return render_template("keys/decrypt.html", choice=choice, name=name,
                               problem=exc.message, fix=exc.fix), 422
    flash(_("%(name)s was opened: the key %(key)s is installed and the .aes file removed.",
            name=name, key=opened.name), "success")
    return redirect(back)
