"""The users admin page: list, create, change role / name / module, deactivate, reset password.

Messages are checked here first, in the reader's language, field by field; the services
(``users.create_user``, ``user_changes``) check again and stay the authority.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, current_bridge_user, protect
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models import User
from medshake_bridge.models.users import ROLES
from medshake_bridge.user_changes import (
    MODULE_PATTERN,
    UserUpdate,
    active_admin_count,
    reset_password,
    update_user,
)
from medshake_bridge.users import (
    LOGIN_PATTERN,
    UserError,
    create_user,
    find_user,
    list_users,
)
from medshake_bridge.views.account import policy_message

user_pages = protect(Blueprint("bridge_users", __name__, url_prefix="/admin/users"), ADMIN)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _password_problem(password: str, confirm: str, *, login: str) -> str:
    return policy_message(password, confirm, login=login)


def _module_problem(module: str) -> str:
    if not MODULE_PATTERN.match(module):
        return _("Use letters, digits, dots, dashes or underscores for the module.")
    return ""


def _creation_problems(form: dict[str, str]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not LOGIN_PATTERN.match(form["login"]):
        problems["login"] = _("Use letters, digits, dots, dashes or underscores (80 at most), "
                              "starting with a letter or a digit.")
    elif find_user(form["login"]) is not None:
        problems["login"] = _("A user with this login already exists: choose another login.")
    if form["role"] not in ROLES:
        problems["role"] = _("Choose a role from the list.")
    if problem := _module_problem(form["module"]):
        problems["module"] = problem
    if problem := _password_problem(form["password"], form["confirm"], login=form["login"]):
        problems["password"] = problem
    return problems


@user_pages.route("/", methods=["GET", "POST"])
def index() -> Response | tuple[str, int] | str:
    form = {"login": "", "display_name": "", "role": "practitioner", "module": "base",
            "password": "", "confirm": ""}
    problems: dict[str, str] = {}
    if request.method == "POST":
        form.update({key: request.form.get(key, "").strip() for key in form})
        form["password"] = request.form.get("password", "")
        form["confirm"] = request.form.get("confirm", "")
        problems = _creation_problems(form)
        if not problems:
            try:
                user = create_user(form["login"], form["password"], role=form["role"],
                                   display_name=form["display_name"], module=form["module"])
            except UserError as error:
                problems["login"] = str(error)
            else:
                audit("user.create", target=user.login, detail=f"role {user.role}")
                flash(_("User %(login)s created (id %(id)s).", login=user.login, id=user.id),
                      "success")
                return redirect(url_for(".index"))
        flash(_("The user was not created: correct the fields marked below."), "error")
    form["password"] = form["confirm"] = ""  # never sent back
    status = 400 if problems else 200
    return render_template("bridge/users.html", users=list_users(), form=form,
                           problems=problems, roles=ROLES), status


@user_pages.route("/<int:user_id>", methods=["GET", "POST"])
def edit(user_id: int) -> Response | tuple[str, int]:
    user = _user_or_404(user_id)
    problems: dict[str, str] = {}
    form: dict[str, Any] = {"display_name": user.display_name, "role": user.role,
                            "module": user.module, "active": user.active}
    if request.method == "POST":
        form = {
            "display_name": request.form.get("display_name", "").strip(),
            "role": request.form.get("role", ""),
            "module": request.form.get("module", "").strip(),
            "active": request.form.get("active") == "1",
        }
        problems = _update_problems(user, form)
        if not problems:
            change = UserUpdate(**form)
            try:
                changed = update_user(user, change, acting=current_bridge_user())
            except UserError as error:
                problems["role"] = str(error)
            else:
                _audit_update(user, changed)
                flash(_("Changes to %(login)s saved.", login=user.login) if changed
                      else _("Nothing changed."), "success")
                return redirect(url_for(".edit", user_id=user.id))
        flash(_("Nothing was saved: correct the fields marked below."), "error")
    status = 400 if problems else 200
    return render_template("bridge/user_edit.html", user=user, form=form, problems=problems,
                           roles=ROLES), status


def _update_problems(user: User, form: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if form["role"] not in ROLES:
        problems["role"] = _("Choose a role from the list.")
    if problem := _module_problem(form["module"]):
        problems["module"] = problem
    acting = current_bridge_user()
    if acting is not None and acting.id == user.id and not form["active"]:
        problems["active"] = _("You cannot deactivate your own account: ask another "
                               "administrator.")
    loses_admin = user.role == "admin" and user.active and (
        form["role"] != "admin" or not form["active"])
    if loses_admin and active_admin_count() <= 1 and "active" not in problems:
        problems["role"] = _("This is the last active administrator: make another user an "
                             "administrator first.")
    return problems


def _audit_update(user: User, changed: list[str]) -> None:
    if "active" in changed:
        audit("user.activate" if user.active else "user.deactivate", target=user.login)
    others = [field for field in changed if field != "active"]
    if others:
        detail = ", ".join(f"{field}={getattr(user, field)}" for field in others)
        audit("user.update", target=user.login, detail=detail)


@user_pages.route("/<int:user_id>/password", methods=["POST"])
def password(user_id: int) -> Response | tuple[str, int]:
    user = _user_or_404(user_id)
    new = request.form.get("password", "")
    problem = _password_problem(new, request.form.get("confirm", ""), login=user.login)
    must_change = request.form.get("must_change") == "1"
    if not problem:
        try:
            reset_password(user, new, must_change=must_change)
        except UserError as error:
            problem = str(error)
    if problem:
        flash(_("The password was not changed: %(problem)s", problem=problem), "error")
        form = {"display_name": user.display_name, "role": user.role, "module": user.module,
                "active": user.active}
        return render_template("bridge/user_edit.html", user=user, form=form,
                               problems={"password": problem}, roles=ROLES), 400
    audit("user.password_reset", target=user.login,
          detail="must change at next login" if must_change else "")
    flash(_("New password saved for %(login)s. Give it to them by a safe channel.",
            login=user.login), "success")
    return redirect(url_for(".edit", user_id=user.id))
