"""The user's own account: changing one's password (with the current one), also the page a
user is sent to when an administrator reset the password ("change at next login")."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from medshake_bridge.access import USER, current_bridge_user, protect
from medshake_bridge.audit import audit
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.passwords import MIN_DISTINCT_CHARACTERS, min_length, password_problem
from medshake_bridge.sessions import stamp_session
from medshake_bridge.user_changes import change_own_password
from medshake_bridge.users import UserError, verify_password

account_pages = protect(Blueprint("bridge_account", __name__, url_prefix="/account"), USER)


def policy_message(password: str, confirm: str, *, login: str) -> str:
    """What is wrong with a new password typed in a form, in the reader's language."""
    code = password_problem(password, login=login)
    messages = {
        "blank": _("The password cannot be empty or only spaces."),
        "short": _("The password needs at least %(count)s characters.", count=min_length()),
        "repetitive": _("The password repeats too few characters: mix at least %(count)s "
                        "different characters.", count=MIN_DISTINCT_CHARACTERS),
        "login": _("The password must not contain the login."),
        "common": _("This password is in the list of common passwords: choose a less guessable "
                    "one (a sentence of several words works well)."),
    }
    if code:
        return messages.get(code, _("This password is not accepted."))
    if password != confirm:
        return _("The two passwords differ: type the same password twice.")
    return ""


@account_pages.route("/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    user = current_bridge_user()
    assert user is not None  # the guard let a logged-in user through
    problems: dict[str, str] = {}
    if request.method == "POST":
        current = request.form.get("current", "")
        new = request.form.get("password", "")
        if not verify_password(user, current):
            problems["current"] = _("The current password is wrong.")
            audit("user.password_change", target=user.login, outcome="failed",
                  detail="wrong current password")
        elif current == new:
            problems["password"] = _("Choose a password different from the current one.")
        elif problem := policy_message(new, request.form.get("confirm", ""), login=user.login):
            problems["password"] = problem
        if not problems:
            try:
                change_own_password(user, current, new)
            except UserError as error:  # the service checks again
                problems["password"] = str(error)
            else:
                stamp_session(user)  # this session goes on; the others have ended
                audit("user.password_change", target=user.login)
                flash(_("Your new password is saved. Your other sessions have been ended."),
                      "success")
                return redirect(url_for("bridge_home.index"))
        flash(_("The password was not changed: correct the fields marked below."), "error")
    status = 400 if problems else 200
    return render_template("bridge/account_password.html", problems=problems,
                           forced=bool(user.must_change_password),
                           min_length=min_length()), status
