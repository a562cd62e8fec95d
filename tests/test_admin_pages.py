"""The admin pages through the test client: users, global settings, overrides, plugins, audit.
Every refusal leaves the database as it was ("nothing is half-saved")."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, events, login, make_people, post

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models import SettingValue, User

SECRET = "Mailbox-Pa55word-xyz"


@pytest.fixture
def people(app):
    return make_people(app)


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def _rows(app) -> list[tuple]:
    with app.app_context():
        return sorted((r.name, r.level, r.scope, r.value) for r in db.session.scalars(
            select(SettingValue)))


def _text(response) -> str:
    return response.get_data(as_text=True)


# -- users ----------------------------------------------------------------------------------

def test_create_user_and_refusals(app, admin, people):
    base = {"login": "claire", "display_name": "Claire", "role": "secretary",
            "module": "base", "password": PASSWORD, "confirm": PASSWORD}
    refusals = [
        ({"login": "alice"}, "Un utilisateur a déjà cet identifiant"),
        ({"login": "has space"}, "Utilisez des lettres, chiffres"),
        ({"password": "short", "confirm": "short"}, "au moins 10 caractères"),
        ({"confirm": "something else"}, "Les deux mots de passe diffèrent"),
        ({"module": "bad module!"}, "pour le module"),
    ]
    for change, message in refusals:
        response = post(admin, "/admin/users/", {**base, **change})
        assert response.status_code == 400, change
        assert message in _text(response) and PASSWORD not in _text(response)
        assert "L&#39;utilisateur n&#39;a pas été créé" in _text(response)
    response = post(admin, "/admin/users/", base)
    assert response.status_code == 302
    assert "Utilisateur claire créé" in _text(admin.get("/admin/users/"))
    with app.app_context():
        claire = db.session.scalar(select(User).where(User.login == "claire"))
        assert (claire.role, claire.display_name) == ("secretary", "Claire")
    assert [e.target for e in events(app, "user.create")] == ["claire"]
    assert login(app.test_client(), "claire").status_code == 302


def test_change_role_deactivate_and_reset_password(app, admin, people):
    url = f"/admin/users/{people.alice}"
    form = {"display_name": "Dr Alice Martin", "role": "secretary", "module": "cardio"}
    assert post(admin, url, form).status_code == 302  # no "active": deactivated
    with app.app_context():
        alice = db.session.get(User, people.alice)
        assert (alice.display_name, alice.role, alice.module, alice.active) == (
            "Dr Alice Martin", "secretary", "cardio", False)
    assert login(app.test_client(), "alice").status_code == 403
    assert post(admin, url, {**form, "active": "1"}).status_code == 302
    response = post(admin, f"{url}/password", {"password": "short", "confirm": "short"},
                    page=url)
    assert response.status_code == 400 and "au moins 10 caractères" in _text(response)
    new = "a brand new passphrase"
    assert post(admin, f"{url}/password", {"password": new, "confirm": new},
                page=url).status_code == 302
    assert login(app.test_client(), "alice", new).status_code == 302
    actions = [e.action for e in events(app)
               if e.target == "alice" and e.action.startswith("user.")]
    assert actions == ["user.deactivate", "user.update", "user.activate",
                       "user.password_reset"]


def test_last_admin_and_self_deactivation_are_refused(app, admin, people):
    url = f"/admin/users/{people.admin}"
    response = post(admin, url, {"display_name": "Ada", "role": "practitioner",
                                 "module": "base", "active": "1"})
    assert response.status_code == 400
    assert "dernier administrateur actif" in _text(response)
    response = post(admin, url, {"display_name": "Ada", "role": "admin", "module": "base"})
    assert response.status_code == 400
    assert "votre propre compte" in _text(response)
    with app.app_context():
        ada = db.session.get(User, people.admin)
        assert (ada.role, ada.active, ada.display_name) == ("admin", True, "Ada Admin")


def test_unknown_user_pages_are_404(admin):
    assert admin.get("/admin/users/999").status_code == 404
    assert admin.get("/admin/users/999/settings").status_code == 404


# -- global settings ------------------------------------------------------------------------

def test_global_page_lists_every_setting_by_category(app, admin):
    # one topic at a time: every site-wide setting is on the page of its category
    page = _text(admin.get("/admin/settings/"))
    registry = bridge_state(app).registry
    for category, specs in registry.categories().items():
        if not any(spec.offered_at("default") for spec in specs):
            continue
        topic = _text(admin.get("/admin/settings/", query_string={"topic": category}))
        assert f'data-topic="{category}" aria-current="page"' in topic, category
        for spec in specs:
            if spec.offered_at("default"):
                assert f'id="setting-{spec.name}"' in topic, spec.name
    assert "<legend>Apicrypt</legend>" in page and "apicryptVersion" in page
    assert 'id="setting-optionGeActiverInboxApicrypt"' not in page  # another topic
    assert "Serveur de réception (POP3)" in page and "Port POP3" in page
    assert 'type="number" id="f-apicryptPopPort" name="s-apicryptPopPort" value="110"' in page


def test_global_save_changes_only_what_changed(app, admin):
    response = post(admin, "/admin/settings/", {
        "s-apicryptPopHost": "pop.example.org", "s-apicryptPopPort": "110",
        "s-apicryptKeepOnServer__shown": "1", "s-apicryptKeepOnServer": "true"})
    assert response.status_code == 302
    assert "2 paramètres enregistrés" in _text(admin.get("/admin/settings/"))
    rows = _rows(app)
    assert ("apicryptPopHost", "default", "", '"pop.example.org"') in rows
    assert ("apicryptKeepOnServer", "default", "", "true") in rows
    assert not any(row[0] == "apicryptPopPort" for row in rows)
    targets = [e.target for e in events(app, "setting.set")]
    assert sorted(targets) == ["apicryptKeepOnServer@default", "apicryptPopHost@default"]
    # back to the declared default
    response = post(admin, "/admin/settings/", {"reset": "apicryptPopHost"})
    assert response.status_code == 302
    assert not any(row[0] == "apicryptPopHost" for row in _rows(app))
    assert [e.target for e in events(app, "setting.unset")] == ["apicryptPopHost@default"]


@pytest.mark.parametrize("field, value, message", [
    ("s-apicryptPopPort", "0", "« 0 » n&#39;est pas un port"),
    ("s-apicryptPopHost", "pop intermedic.org", "n&#39;est pas un nom de serveur"),
    ("s-apicryptCheminVersClefs", "/no/such/folder", "Le dossier /no/such/folder n&#39;existe"),
    ("s-apicryptCheminVersClefs", "relative/path", "n&#39;est pas un chemin absolu"),
])
def test_invalid_values_are_explained_and_nothing_is_saved(app, admin, field, value, message):
    before = _rows(app)
    response = post(admin, "/admin/settings/", {
        field: value, "s-apicryptSmtpHost": "smtp.example.org"})
    assert response.status_code == 400
    page = _text(response)
    assert message in page
    assert "Rien n&#39;a été enregistré : 1 valeur est refusée" in page
    assert f'name="{field}" value="{value}"' in page  # what was typed is kept
    assert 'value="smtp.example.org"' in page
    assert _rows(app) == before
    assert events(app, "setting.set") == []


def test_a_user_id_that_does_not_exist_is_refused(app, admin, people):
    # delegation is granted per user only (never on the global page)
    url = f"/admin/users/{people.sophie}/settings"
    response = post(admin, url, [
        ("setting", "apicryptInboxMailForUserID"),
        ("s-apicryptInboxMailForUserID__shown", "1"),
        ("s-apicryptInboxMailForUserID", str(people.alice)),
        ("s-apicryptInboxMailForUserID", "999")])
    assert response.status_code == 400
    assert "pas d&#39;utilisateur n° 999" in _text(response)
    assert _rows(app) == []


def test_secret_is_write_only(app, admin):
    page = _text(admin.get("/admin/settings/"))
    assert "non défini" in page
    response = post(admin, "/admin/settings/", {"s-apicrypt2CompanionToken": SECRET})
    assert response.status_code == 302
    [row] = [r for r in _rows(app) if r[0] == "apicrypt2CompanionToken"]
    assert SECRET not in row[3]  # encrypted at rest
    with app.app_context():
        assert bridge_state(app).settings.get("apicrypt2CompanionToken") == SECRET
    page = _text(admin.get("/admin/settings/"))
    assert SECRET not in page and "●" not in page and "*****" not in page
    assert 'name="s-apicrypt2CompanionToken" value=""' in page and ">défini<" in page
    # an empty field leaves it unchanged; the erase box clears it
    assert post(admin, "/admin/settings/", {"s-apicrypt2CompanionToken": ""}).status_code == 302
    with app.app_context():
        assert bridge_state(app).settings.get("apicrypt2CompanionToken") == SECRET
    [event] = events(app, "setting.set")
    assert event.detail == "secret value changed" and SECRET not in event.detail
    post(admin, "/admin/settings/", {"s-apicrypt2CompanionToken__clear": "1"})
    with app.app_context():
        assert bridge_state(app).settings.get("apicrypt2CompanionToken") == ""
    assert SECRET not in "".join(_text(admin.get(url)) for url in (
        "/admin/audit/", "/admin/users/1/settings", "/admin/modules/base/settings"))


# -- overrides ------------------------------------------------------------------------------

def test_user_overrides_add_show_source_and_remove(app, admin, people):
    url = f"/admin/users/{people.sophie}/settings"
    page = _text(admin.get(url))
    assert "Aucune surcharge" in page
    assert '<option value="apicryptPopHost">' in page
    page = _text(admin.get(url + "?edit=apicryptInboxMailForUserID"))
    assert 'name="s-apicryptInboxMailForUserID"' in page
    response = post(admin, url, [("setting", "apicryptInboxMailForUserID"),
                                 ("s-apicryptInboxMailForUserID__shown", "1"),
                                 ("s-apicryptInboxMailForUserID", str(people.alice))])
    assert response.status_code == 302
    page = _text(admin.get(url))
    assert 'id="override-apicryptInboxMailForUserID"' in page
    assert f"alice (n° {people.alice})" in page
    assert '<option value="apicryptInboxMailForUserID">' not in page  # no longer addable
    with app.app_context():
        sophie = db.session.get(User, people.sophie)
        from medshake_bridge.access import readable_mail_owner_ids
        assert readable_mail_owner_ids(sophie) == {people.sophie, people.alice}
    # module value, then a user value: the page says where each comes from
    with app.app_context():
        bridge_state(app).settings.set("apicryptPopHost", "pop.cardio.example", level="module",
                                       module="cardio")
    bob_url = f"/admin/users/{people.bob}/settings"
    page = _text(admin.get(bob_url))
    assert "pop.cardio.example" in page and "module cardio" in page
    post(admin, bob_url, {"setting": "apicryptPopHost", "s-apicryptPopHost": "pop.bob.example"})
    page = _text(admin.get(bob_url))
    row = page.split('id="override-apicryptPopHost"')[1].split("</tr>")[0]
    assert "pop.cardio.example" in row and "pop.bob.example" in row
    eff = page.split('id="effective-apicryptPopHost"')[1].split("</tr>")[0]
    assert "pop.bob.example" in eff and "cet utilisateur" in eff
    # remove
    response = post(admin, url + "/remove", {"setting": "apicryptInboxMailForUserID"}, page=url)
    assert response.status_code == 302
    assert "Aucune surcharge" in _text(admin.get(url))
    targets = [e.target for e in events(app) if e.action.startswith("setting.")]
    assert targets == [f"apicryptInboxMailForUserID@user:{people.sophie}",
                       f"apicryptPopHost@user:{people.bob}",
                       f"apicryptInboxMailForUserID@user:{people.sophie}"]


def test_override_refusals_keep_the_database_unchanged(app, admin, people):
    url = f"/admin/users/{people.alice}/settings"
    response = post(admin, url, {"setting": "apicryptPopPort", "s-apicryptPopPort": "0"})
    assert response.status_code == 400
    assert "« 0 » n&#39;est pas un port" in _text(response)
    response = post(admin, url, {"setting": "bridgeDisabledPlugins",
                                 "s-bridgeDisabledPlugins": "x"})
    assert response.status_code == 400  # not a user-level setting
    response = post(admin, url, {"setting": "noSuchSetting"})
    assert response.status_code == 400
    assert _rows(app) == []


def test_secret_override_and_module_page(app, admin, people):
    url = f"/admin/users/{people.alice}/settings"
    post(admin, url, {"setting": "apicryptPopPassword", "s-apicryptPopPassword": SECRET})
    page = _text(admin.get(url))
    assert SECRET not in page
    row = page.split('id="override-apicryptPopPassword"')[1].split("</tr>")[0]
    assert "défini" in row
    edit = _text(admin.get(url + "?edit=apicryptPopPassword"))
    assert SECRET not in edit and 'value=""' in edit
    module_url = "/admin/modules/cardio/settings"
    response = post(admin, module_url, {"setting": "apicryptSmtpPort",
                                        "s-apicryptSmtpPort": "465"})
    assert response.status_code == 302
    assert ("apicryptSmtpPort", "module", "cardio", "465") in _rows(app)
    assert "cardio" in _text(admin.get("/admin/overrides"))
    assert admin.get("/admin/modules/bad module/settings").status_code == 404


# -- plugins and audit ----------------------------------------------------------------------

def test_plugins_page_and_disabling(app, admin):
    page = _text(admin.get("/admin/plugins/"))
    for name in ("apicrypt_v1", "pop3", "medshake_bridge.default_plugins.web_pages"):
        assert f'id="plugin-{name}"' in page
    assert "medshake_blueprints" in page
    assert post(admin, "/admin/plugins/toggle", {"name": "pop3"},
                page="/admin/plugins/").status_code == 302
    with app.app_context():
        assert bridge_state(app).settings.get("bridgeDisabledPlugins") == ["pop3"]
    assert "au prochain redémarrage" in _text(admin.get("/admin/plugins/"))
    post(admin, "/admin/plugins/toggle", {"name": "pop3"}, page="/admin/plugins/")
    with app.app_context():
        assert bridge_state(app).settings.get("bridgeDisabledPlugins") == []
    assert [e.action for e in events(app) if e.target == "pop3"] == [
        "plugin.disable", "plugin.enable"]
    response = post(admin, "/admin/plugins/toggle",
                    {"name": "medshake_bridge.default_plugins.web_pages"}, page="/admin/plugins/")
    assert response.status_code == 404


def test_audit_page_filters(app, admin, people):
    login(app.test_client(), "alice", "wrong password!")
    login(app.test_client(), "bob")
    page = _text(admin.get("/admin/audit/"))
    assert "login.failed" in page and "bob" in page
    page = _text(admin.get("/admin/audit/?action=login.failed"))
    assert "alice" in page and ">bob<" not in page
    assert "1 événements ; page 1 sur 1." in page  # exactly the one failed login
    assert page.split('id="audit"')[1].count('<tr class="outcome-') == 1
    page = _text(admin.get("/admin/audit/?outcome=ok&actor=bob"))
    assert "login.failed" not in page.split('id="audit"')[1] and ">bob<" in page
    assert "Aucun évènement" in _text(admin.get("/admin/audit/?since=2999-01-01"))
    page = _text(admin.get("/admin/audit/?until=2000-01-01"))
    assert "0 événements ; page 1 sur 1." in page and "Aucun évènement" in page
    assert '<tr class="outcome-' not in page
    assert "n&#39;est pas une date" in _text(admin.get("/admin/audit/?since=yesterday"))


# -- from the command line to the pages -------------------------------------------------------

def test_first_admin_from_the_cli_configures_a_mailbox_from_the_pages(app, cli):
    result = cli("create-user", "chief", "--role", "admin", "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    cli("create-user", "jean", "--password-stdin", input=PASSWORD + "\n")
    client = app.test_client()
    assert login(client, "chief").status_code == 302
    with app.app_context():
        jean = db.session.scalar(select(User.id).where(User.login == "jean"))
    url = f"/admin/users/{jean}/settings"
    for name, value in [("apicryptAdresse", "jean.DUPONT@medical69.apicrypt.org"),
                        ("apicryptUtilisateur", "jean.DUPONT"),
                        ("apicryptPopUser", "jean.DUPONT"),
                        ("apicryptPopPassword", SECRET)]:
        assert post(client, url, {"setting": name, f"s-{name}": value}).status_code == 302
    with app.app_context():
        values = bridge_state(app).settings.values_for_user(jean)
    assert values["apicryptAdresse"] == "jean.DUPONT@medical69.apicrypt.org"
    assert values["apicryptPopPassword"] == SECRET
    assert [e.actor_login for e in events(app, "user.create")] == ["cli", "cli"]


def test_cli_account_fixes_are_audited(app, cli, people):
    result = cli("users", "reset-password", "alice", "--password-stdin",
                 input="another long passphrase\n")
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "alice", "another long passphrase").status_code == 302
    assert cli("users", "set-active", "bob", "false").exit_code == 0
    assert login(app.test_client(), "bob").status_code == 403
    result = cli("users", "set-role", "admin", "practitioner")
    assert result.exit_code == 1 and "last active administrator" in result.output
    result = cli("users", "reset-password", "nobody", "--password-stdin", input="x" * 12 + "\n")
    assert result.exit_code == 1 and "no user named" in result.output
    assert [(e.action, e.target, e.actor_login) for e in events(app)
            if e.actor_login == "cli"] == [("user.password_reset", "alice", "cli"),
                                           ("user.deactivate", "bob", "cli")]


def test_untouched_fields_sent_back_are_not_revalidated(app, admin):
    """The global form sends every field; a declared default folder that does not exist yet
    must not block saving another change."""
    with app.app_context():
        store = bridge_state(app).settings
        inbox = store.declared_default(store.registry.get("apicryptCheminInbox"))
    response = post(admin, "/admin/settings/", {
        "s-apicryptCheminInbox": inbox, "s-apicryptPopPort": "110",
        "s-apicryptSmtpHost": "smtp.example.org"})
    assert response.status_code == 302
    assert [row[0] for row in _rows(app)] == ["apicryptSmtpHost"]


def test_cli_setting_changes_are_audited(app, cli):
    assert cli("config", "set", "apicryptPopPassword", "--value-stdin",
               input=SECRET + "\n").exit_code == 0
    assert cli("config", "unset", "apicryptPopPassword").exit_code == 0
    assert [(e.action, e.target, e.actor_login, e.detail) for e in events(app)] == [
        ("setting.set", "apicryptPopPassword@default", "cli", "secret value changed"),
        ("setting.unset", "apicryptPopPassword@default", "cli", "")]


def test_global_page_offers_no_per_person_value(app, admin):
    """An address, a mailbox login and password, a certificate, a delegation belong to one
    person: the global page names them and points to the practitioner's page, offers no
    field for them, and refuses them if posted anyway; a site-wide value already stored
    (an import, the command line) is named with a button that removes it."""
    registry = bridge_state(app).registry
    per_person = [spec for spec in registry if spec.per_person]
    assert {"apicryptAdresse", "apicryptUtilisateur", "apicryptPopUser", "apicryptPopPassword",
            "apicrypt2CertName", "apicrypt2CertPassword", "apicryptMaildir",
            "apicryptInboxMailForUserID"} <= {spec.name for spec in per_person}
    pages = "".join(_text(admin.get("/admin/settings/", query_string={"topic": category}))
                    for category in registry.categories())
    for spec in per_person:
        assert f'id="setting-{spec.name}"' not in pages, spec.name
        assert f'name="s-{spec.name}"' not in pages, spec.name
    page = _text(admin.get("/admin/settings/"))
    notice = page.split('id="per-person-settings"')[1].split("</section>")[0]
    assert "Préparer le praticien" in notice and "Adresse Apicrypt" in notice
    assert "Mot de passe de la boîte" in notice and 'href="/admin/users/"' in notice
    assert "stored-per-person" not in page
    # posted anyway: not saved
    response = post(admin, "/admin/settings/", {
        "s-apicryptAdresse": "tout.LEMONDE@medical69.apicrypt.org",
        "s-apicryptPopPassword": SECRET, "s-apicryptSmtpHost": "smtp.example.org"})
    assert response.status_code == 302
    assert [row[0] for row in _rows(app)] == ["apicryptSmtpHost"]
    # a module page does not offer them either, and says where they go
    module = _text(admin.get("/admin/modules/base/settings"))
    assert 'value="apicryptAdresse"' not in module
    refused = post(admin, "/admin/modules/base/settings", {
        "setting": "apicryptAdresse", "s-apicryptAdresse": "a.B@medical69.apicrypt.org"})
    assert refused.status_code == 400
    assert "apicryptAdresse est propre à une personne" in _text(refused)
    # the user's own page still offers them
    assert 'value="apicryptAdresse"' in _text(admin.get("/admin/users/1/settings"))
    # a site-wide value stored by the command line is named and can be removed
    with app.app_context():
        bridge_state(app).settings.set("apicryptPopUser", "commun", level="default")
    page = _text(admin.get("/admin/settings/"))
    stored = page.split('id="stored-per-person"')[1].split("</div>")[0]
    assert "s&#39;applique à chaque utilisateur qui n&#39;a pas la sienne" in stored
    assert 'data-stored-per-person="apicryptPopUser"' in stored
    assert 'value="apicryptPopUser"' in stored
    assert post(admin, "/admin/settings/", {"reset": "apicryptPopUser"}).status_code == 302
    assert not any(row[0] == "apicryptPopUser" for row in _rows(app))
    assert "stored-per-person" not in _text(admin.get("/admin/settings/"))
