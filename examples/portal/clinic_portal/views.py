"""The portal's own pages and login (Flask-Login), untouched by the bridge."""

from __future__ import annotations

import secrets
from datetime import date

import click
from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask.cli import with_appcontext
from flask_login import LoginManager, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from clinic_portal.models import Patient, PatientDocument, Staff, db

portal = Blueprint("portal", __name__, template_folder="templates")
login_manager = LoginManager()
login_manager.login_view = "portal.login"


@login_manager.user_loader
def load_staff(staff_id: str) -> Staff | None:
    return db.session.get(Staff, int(staff_id))


@portal.before_app_request
def make_csp_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)  # the layout's inline style; the bridge allows it


@portal.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        staff = db.session.scalar(select(Staff).where(
            Staff.username == request.form.get("username", "")))
        if staff and check_password_hash(staff.password_hash, request.form.get("password", "")):
            login_user(staff)
            flash(f"Bienvenue, {staff.full_name}.")  # the portal's own flash (Flask's key)
            target = request.args.get("next", "")
            # the portal's own rule: only paths of this site
            if not target.startswith("/") or target.startswith("//") or "\\" in target:
                target = url_for("portal.home")
            return redirect(target)
        error = "Identifiant ou mot de passe incorrect."
    return render_template("portal/login.html", error=error)


@portal.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("portal.login"))


@portal.get("/")
@login_required
def home():
    return render_template("portal/home.html")


@portal.get("/patients/<int:patient_id>")
@login_required
def patient(patient_id: int):
    person = db.get_or_404(Patient, patient_id)
    documents = db.session.scalars(select(PatientDocument).where(
        PatientDocument.patient_id == patient_id).order_by(PatientDocument.id)).all()
    return render_template("portal/patient.html", patient=person, documents=documents)


@click.command("init-portal")
@with_appcontext
@click.option("--password", default="portal-password", show_default=True)
def init_portal_command(password: str) -> None:
    """Create the portal's tables and sample staff and patients (a demo)."""
    db.create_all()
    if db.session.scalar(select(Staff.id)) is None:
        hashed = generate_password_hash(password)
        db.session.add_all([
            Staff(username="dr.martin", full_name="Dr Alice Martin", job="doctor",
                  password_hash=hashed),
            Staff(username="s.leroy", full_name="Sophie Leroy", job="assistant",
                  password_hash=hashed),
            Patient(last_name="DUPONT", first_name="Jeanne", birth_date=date(1961, 3, 12)),
            Patient(last_name="DURAND", first_name="Paul", birth_date=date(1950, 1, 2)),
        ])
        db.session.commit()
    click.echo("Portal ready: dr.martin / s.leroy")


def init_portal(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(portal)
    app.cli.add_command(init_portal_command)
