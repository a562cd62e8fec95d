"""Request bodies are capped per route before anything reads them; over the cap the answer is a
clear 413 in French (or JSON) and nothing is kept (issue #17, item 4)."""

from __future__ import annotations

import io

import pytest
from web_helpers import csrf_token, login, make_people, post


class CountingStream(io.RawIOBase):
    """A request body that says how much of it the server read."""

    def __init__(self, size: int) -> None:
        self.size, self.read_bytes, self.position = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.size + offset}[whence]
        return self.position

    def readinto(self, buffer) -> int:
        count = max(min(len(buffer), self.size - self.position), 0)
        buffer[:count] = b"a" * count
        self.position += count
        self.read_bytes += count
        return count


@pytest.fixture
def people(app):
    return make_people(app)


def _post_stream(client, url: str, size: int, **headers):
    stream = CountingStream(size)
    response = client.post(url, input_stream=stream, content_length=size,
                           content_type="multipart/form-data; boundary=x", headers=headers)
    return response, stream


@pytest.mark.parametrize("url", ["/send/compose", "/login", "/logout", "/admin/users/",
                                 "/inbox/collect", "/admin/keys/general/import"])
def test_a_big_body_without_a_login_is_refused_unread(app, people, url):
    response, stream = _post_stream(app.test_client(), url, 1024 * 1024)  # 1 MB
    assert stream.read_bytes == 0
    if url.startswith("/admin/keys/"):  # the keys plugin answers its own 413 with a redirect
        assert response.status_code == 302
        return
    assert response.status_code == 413
    assert "trop volumineuse" in response.get_data(as_text=True)


def test_a_logged_in_form_has_a_smaller_cap_than_an_upload(app, people):
    client = app.test_client()
    login(client, "admin")
    response, stream = _post_stream(client, "/admin/users/", 2 * 1024 * 1024)
    assert response.status_code == 413 and stream.read_bytes == 0
    assert "1 Mo" in response.get_data(as_text=True)
    response, stream = _post_stream(client, "/send/compose", 65 * 1024 * 1024)
    assert response.status_code == 413 and stream.read_bytes == 0
    assert "64 Mo" in response.get_data(as_text=True)


def test_an_upload_under_the_cap_goes_through(app, people):
    client = app.test_client()
    login(client, "alice")
    token = csrf_token(client, "/send/compose")
    data = {"csrf_token": token, "recipients": "", "subject": "x", "body": "x",
            "upload": (io.BytesIO(b"%PDF" + b"0" * (3 * 1024 * 1024)), "compte-rendu.pdf")}
    response = client.post("/send/compose", data=data, content_type="multipart/form-data")
    assert response.status_code != 413  # refused for its missing recipient, not its size


def test_the_upload_cap_is_configurable(make_app):
    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES=2 * 1024 * 1024)
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    login(client, "alice")
    response, stream = _post_stream(client, "/send/compose", 3 * 1024 * 1024)
    assert response.status_code == 413 and stream.read_bytes == 0
    assert "2 Mo" in response.get_data(as_text=True)


def test_the_login_form_is_small(app, people):
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"csrf_token": token, "login": "alice",
                                           "password": "x" * (100 * 1024)})
    assert response.status_code == 413


def test_json_clients_get_json(app, people):
    response, _stream = _post_stream(app.test_client(), "/send/compose", 10**9,
                                     Accept="application/json")
    assert response.status_code == 413
    assert response.is_json and response.json["status"] == 413


def test_a_normal_form_still_works(app, people):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    response = post(client, "/admin/users/", {
        "login": "nadia", "display_name": "", "role": "secretary", "module": "base",
        "password": "une phrase assez longue", "confirm": "une phrase assez longue"})
    assert response.status_code == 302


def test_an_app_wide_cap_is_never_raised(make_app):
    from medshake_bridge import migrate

    app = make_app(MAX_CONTENT_LENGTH=512 * 1024)
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    login(client, "alice")
    response, stream = _post_stream(client, "/send/compose", 600 * 1024)
    assert response.status_code == 413 and stream.read_bytes == 0
