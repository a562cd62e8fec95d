"""The *Clefs Apicrypt* page through the Flask test client: access, tabs, upload, delete, .aes.

Uploads are built by hand (``multipart``) so that names a browser would never send (NUL, new
line, folder parts) reach the server exactly as an attacker would send them.
"""

from __future__ import annotations

import io
import re
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from test_keys_manager import snapshot
from web_helpers import csrf_token, events, login, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import db
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, install_programs, make_aes_key, make_keys

BOB = "bob.DURAND"


class KeySite:
    def __init__(self, app, tmp_path: Path) -> None:
        self.app = app
        self.tmp = tmp_path
        self.people = make_people(app)
        self.keys_dir = tmp_path / "site"
        self.keys_dir.mkdir()
        self.clefs = self.keys_dir / "Clefs"
        self.bin = tmp_path / "bin"
        install_programs(self.bin)
        self.source = tmp_path / "from-apicem"
        make_keys(BOB, self.source, 2026)
        self.set("apicryptCheminVersClefs", str(self.keys_dir))
        self.set("apicryptCheminVersBinaires", str(self.bin))
        self.set("apicryptUtilisateur", BOB, user_id=self.people.bob)
        self.client = app.test_client()
        login(self.client, "admin")

    def set(self, name: str, value: object, user_id: int | None = None) -> None:
        with self.app.app_context():
            bridge_state(self.app).settings.set(
                name, value, level="user" if user_id else "default", user_id=user_id)
            db.session.remove()

    def key(self, name: str) -> bytes:
        return (self.source / "Clefs" / name).read_bytes()

    def page(self, scope: str = "general") -> str:
        response = self.client.get(f"/admin/keys/{scope}/")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def upload(self, files: list[tuple[str, bytes]], scope: str = "general", *,
               xhr: bool = False, follow: bool = True):
        token = csrf_token(self.client, f"/admin/keys/{scope}/")
        body, content_type = multipart({"csrf_token": token}, files)
        headers = {"X-Requested-With": "XMLHttpRequest"} if xhr else {}
        return self.client.post(f"/admin/keys/{scope}/import", data=body,
                                content_type=content_type, headers=headers,
                                follow_redirects=follow)

    def post(self, url: str, data: dict[str, str], page: str):
        token = csrf_token(self.client, page)
        return self.client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body; file names go in RFC 2231 form, byte for byte."""
    boundary = "----keys-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for filename, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"key_file\"; "
                     f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def flashes(page: str) -> str:
    found = re.findall(r'<p class="flash flash-\w+"[^>]*>(.*?)</p>', page, re.S)
    return unescape(" ".join(found))


@pytest.fixture
def ks(make_app, tmp_path, monkeypatch) -> KeySite:
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_TODAY="2026-11-28")
    migrate.upgrade(app)
    return KeySite(app, tmp_path)


def test_only_admins_see_the_keys_page(ks: KeySite):
    practitioner = ks.app.test_client()
    login(practitioner, "alice")
    assert practitioner.get("/admin/keys/").status_code == 404
    assert practitioner.get("/admin/keys/static/keys.js").status_code == 404
    assert "Clefs Apicrypt" not in practitioner.get("/").get_data(as_text=True)
    anonymous = ks.app.test_client()
    assert anonymous.get("/admin/keys/").status_code == 302
    page = ks.client.get("/admin/keys/", follow_redirects=True).get_data(as_text=True)
    assert "Clefs Apicrypt" in page and str(ks.clefs) in page
    assert ks.client.get("/admin/keys/user-999/").status_code == 404
    assert ks.client.get("/admin/keys/..%2F..%2Fetc/").status_code == 404
    assert ks.client.get("/admin/keys/static/keys.js").status_code == 200


def test_upload_this_years_keys_then_list_them(ks: KeySite):
    html = ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126")),
                      ("Master.126", ks.key("Master.126"))]).get_data(as_text=True)
    assert "bob.DURAND.126 a été ajouté" in flashes(html)
    assert "Master.126 a été ajouté" in flashes(html)
    assert (ks.clefs / "bob.DURAND.126").read_bytes() == ks.key("bob.DURAND.126")
    assert 'data-name="Master.126"' in html and "année en cours" in html
    assert [e.outcome for e in events(ks.app, "keys.import")] == ["ok", "ok"]
    assert events(ks.app, "keys.import")[0].actor_login == "admin"


def test_the_upload_script_gets_where_to_go(ks: KeySite):
    response = ks.upload([("Master.126", ks.key("Master.126"))], xhr=True, follow=False)
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/admin/keys/general/"}
    assert "Master.126 a été ajouté" in flashes(ks.page())


@pytest.mark.parametrize(("name", "said"), [
    ("../x", "contient un dossier"),
    ("Clefs/../../x", "contient un dossier"),
    (".hidden", "fichier caché"),
    ("bob.DURAND.126\x00", "caractère de contrôle"),
    ("bob.DURAND.126\n", "caractère de contrôle"),
])
def test_upload_with_a_bad_name_is_refused(ks: KeySite, name: str, said: str):
    ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126"))])
    before, outside = snapshot(ks.keys_dir), snapshot(ks.tmp / "x")
    html = ks.upload([(name, b"payload")]).get_data(as_text=True)
    assert said in flashes(html)
    assert snapshot(ks.keys_dir) == before and snapshot(ks.tmp / "x") == outside == {}


def test_upload_of_an_empty_file(ks: KeySite):
    html = ks.upload([("bob.DURAND.126", b"")]).get_data(as_text=True)
    assert "est vide" in flashes(html)
    assert not (ks.clefs / "bob.DURAND.126").exists()


def test_upload_just_over_the_cap_is_refused_by_the_manager(ks: KeySite):
    html = ks.upload([("bob.DURAND.126", b"k" * (1024 * 1024 + 1))]).get_data(as_text=True)
    assert "plus gros que 1 Mo" in flashes(html)
    assert not (ks.clefs / "bob.DURAND.126").exists()


class FiftyMegabytes(io.RawIOBase):
    """A 50 MB request body produced on demand, counting what the server reads of it."""

    size = 50 * 1024 * 1024

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: 0, 1: self.position, 2: self.size}[whence] + offset
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        count = min(len(buffer), self.size - self.position)
        chunk = (self.head[self.position:] + b"k" * count)[:count]
        buffer[:count] = chunk
        self.position += count
        return count


def test_a_50_mb_upload_is_refused_without_reading_it(ks: KeySite):
    token = csrf_token(ks.client, "/admin/keys/general/")
    head, content_type = multipart({"csrf_token": token}, [("bob.DURAND.126", b"")])
    body = FiftyMegabytes(head[: -len(b"\r\n------keys-test-boundary--\r\n") - 2])
    response = ks.client.post("/admin/keys/general/import", input_stream=body,
                              content_type=content_type,
                              headers={"Content-Length": str(body.size)})
    assert response.status_code == 302 and response.location == "/admin/keys/general/"
    assert body.position == 0  # refused from its Content-Length, nothing read
    assert "a été refusé sans être lu" in flashes(ks.page())
    assert not ks.clefs.exists()


def test_an_existing_key_is_not_overwritten_from_the_page(ks: KeySite):
    ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126"))])
    html = ks.upload([("bob.DURAND.126", b"another")]).get_data(as_text=True)
    assert "déjà dans le dossier" in flashes(html)
    assert (ks.clefs / "bob.DURAND.126").read_bytes() == ks.key("bob.DURAND.126")


def test_a_key_folder_that_is_a_file(ks: KeySite):
    ks.clefs.write_bytes(b"not a folder")
    html = ks.page()
    assert "est un fichier, pas un dossier" in html and "non modifiable" in html
    html = ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126"))]).get_data(as_text=True)
    assert "est un fichier, pas un dossier" in flashes(html)
    assert ks.clefs.read_bytes() == b"not a folder"


def test_delete_with_confirmation_and_twice_for_this_years_key(ks: KeySite):
    old = make_keys(BOB, ks.source, 2025)[0]
    ks.upload([(old.name, old.read_bytes()), ("bob.DURAND.126", ks.key("bob.DURAND.126"))])
    page = "/admin/keys/general/"
    confirm = ks.client.get(f"{page}delete?name={old.name}").get_data(as_text=True)
    assert "Supprimer bob.DURAND.125" in confirm and "current-year-warning" not in confirm
    html = ks.post(f"{page}delete", {"name": old.name}, page).get_data(as_text=True)
    assert "bob.DURAND.125 a été supprimé" in flashes(html) and not (ks.clefs / old.name).exists()

    confirm = ks.client.get(f"{page}delete?name=bob.DURAND.126").get_data(as_text=True)
    assert "current-year-warning" in confirm and 'id="confirm-first"' in confirm
    second = unescape(ks.post(f"{page}delete", {"name": "bob.DURAND.126"}, page)
                           .get_data(as_text=True))
    assert 'id="confirm-second"' in second and "n'a pas été supprimée" in second
    assert (ks.clefs / "bob.DURAND.126").exists()
    html = ks.post(f"{page}delete", {"name": "bob.DURAND.126", "confirm_current_year": "yes"},
                   page).get_data(as_text=True)
    assert "bob.DURAND.126 a été supprimé" in flashes(html)
    assert not (ks.clefs / "bob.DURAND.126").exists()
    outcomes = [(e.outcome, e.detail) for e in events(ks.app, "keys.delete")]
    assert outcomes == [("ok", ""), ("denied", "current year, not confirmed"),
                        ("ok", "current year, confirmed twice")]


def test_deleting_what_is_not_in_this_folder(ks: KeySite):
    make_keys("carol.PETIT", ks.tmp / "carol", 2025)
    ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126"))])
    before = snapshot(ks.keys_dir)
    page = "/admin/keys/general/"
    assert "n'existe pas" not in ks.page()
    response = ks.client.get(f"{page}delete?name=carol.PETIT.125", follow_redirects=True)
    assert "Il n'y a pas de fichier de clef carol.PETIT.125" in flashes(
        response.get_data(as_text=True))
    for name in ("carol.PETIT.125", "../../carol/Clefs/carol.PETIT.125", "bob.DURAND.124"):
        html = ks.post(f"{page}delete", {"name": name, "confirm_current_year": "yes"},
                       page).get_data(as_text=True)
        assert "supprimé" not in flashes(html) and flashes(html)
    assert snapshot(ks.keys_dir) == before
    assert (ks.tmp / "carol" / "Clefs" / "carol.PETIT.125").exists()


def test_decrypt_with_the_long_code_from_the_page(ks: KeySite):
    aes, code = make_aes_key(BOB, ks.source, 2027)
    ks.upload([(aes.name, aes.read_bytes())])
    page = "/admin/keys/general/"
    html = ks.page()
    assert "Déchiffrer avec le code long" in html
    form = ks.client.get(f"{page}decrypt?name={aes.name}").get_data(as_text=True)
    assert "code long" in form
    wrong = code.replace(code[0], "Z" if code[0] != "Z" else "Y", 1)
    response = ks.client.post(f"{page}decrypt", data={
        "name": aes.name, "code": wrong, "csrf_token": csrf_token(ks.client, page)})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "le code long est très probablement faux" in text
    assert wrong not in text and (ks.clefs / aes.name).exists()
    html = ks.post(f"{page}decrypt", {"name": aes.name, "code": code}, page).get_data(
        as_text=True)
    assert "bob.DURAND.127.aes a été ouvert" in flashes(html)
    assert (ks.clefs / "bob.DURAND.127").is_file() and not (ks.clefs / aes.name).exists()
    recorded = events(ks.app, "keys.decrypt")
    assert [e.outcome for e in recorded] == ["failed", "ok"]
    assert all(code not in e.detail and wrong not in e.detail for e in recorded)


def test_decrypt_is_offered_only_with_the_program_or_v2(ks: KeySite):
    aes, _code = make_aes_key(BOB, ks.source, 2027)
    ks.upload([(aes.name, aes.read_bytes())])
    ks.set("apicryptCheminVersBinaires", str(ks.tmp))  # a folder without ApiV2AESUtility
    assert "Déchiffrer avec le code long" not in ks.page()
    assert ks.client.get(f"/admin/keys/general/decrypt?name={aes.name}").status_code == 404
    ks.set("apicryptVersion", "2")
    assert "Déchiffrer avec le code long" in ks.page()
    html = ks.post("/admin/keys/general/decrypt", {"name": aes.name, "code": "AAAAA-BBBBB"},
                   "/admin/keys/general/").get_data(as_text=True)
    assert "ApiV2AESUtility ne peut pas être lancé" in html
    assert (ks.clefs / aes.name).exists()


def test_a_user_with_its_own_folder_gets_a_tab(ks: KeySite):
    own = ks.tmp / "alice-keys"
    own.mkdir()
    ks.set("apicryptCheminVersClefs", str(own), user_id=ks.people.alice)
    html = ks.page()
    assert f'href="/admin/keys/user-{ks.people.alice}/"' in html
    assert f'href="/admin/keys/user-{ks.people.bob}/"' not in html  # same folder as general
    ks.upload([("Master.126", ks.key("Master.126"))], scope=f"user-{ks.people.alice}")
    assert (own / "Clefs" / "Master.126").exists() and not ks.clefs.exists()
    assert str(own / "Clefs") in ks.page(f"user-{ks.people.alice}")


def test_expiry_warning_on_the_page(ks: KeySite):
    html = ks.page()
    assert "La clef 2026 de bob.DURAND (bob.DURAND.126) manque" in html
    ks.upload([("bob.DURAND.126", ks.key("bob.DURAND.126"))])
    html = ks.page()
    assert "bob.DURAND.126) manque" not in html and 'id="no-expiry-warning"' in html
