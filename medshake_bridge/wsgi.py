"""One origin for the bridge and a PHP EHR: :func:`front`.

``front(upstream_url, prefix="/apicrypt")`` is a WSGI application that serves the bridge under
``prefix`` and forwards every other request, unchanged, to the EHR's web server (php-fpm
behind nginx or Apache, or PHP's built-in server). Same origin means the browser sends the
EHR's login cookies to the bridge too (what MedShakeEHR single sign-on needs) and the bridge's
own session cookie stays under ``prefix``.

The proxy keeps the method, path, query, body, cookies and headers (``Host`` included, so the
EHR builds its URLs and cookie domains as before), adds ``X-Forwarded-For``/``-Proto``/
``-Host``, never follows redirects, passes every ``Set-Cookie`` through, streams the answer,
and drops only hop-by-hop headers. An EHR that does not answer gives a 502 page.

    gunicorn 'medshake_bridge.wsgi:front("http://127.0.0.1:8080")'
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from medshake_bridge.errors import ConfigurationError

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
CHUNK = 64 * 1024
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def front(upstream_url: str, prefix: str = "/apicrypt", *, bridge: Any = None,
          timeout: float = 120.0) -> WSGIApp:
    """The bridge under ``prefix``, everything else proxied to ``upstream_url``.

    ``bridge`` is the bridge's WSGI app (default: ``create_app()`` from the environment).
    """
    prefix = "/" + prefix.strip("/")
    if prefix == "/":
        raise ConfigurationError("the bridge needs its own path prefix",
                                 fix='give front() a prefix such as "/apicrypt"')
    if bridge is None:
        from medshake_bridge import create_app

        bridge = create_app()
    return DispatcherMiddleware(UpstreamProxy(upstream_url, timeout=timeout), {prefix: bridge})


class UpstreamProxy:
    """A WSGI app forwarding each request to one HTTP upstream."""

    def __init__(self, upstream_url: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"{upstream_url!r} is not an http(s) URL",
                                     fix="give the EHR's address, e.g. http://127.0.0.1:8080")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        connection_class = (http.client.HTTPSConnection if self.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(self.host, self.port, timeout=self.timeout)
        target = self.base_path + _request_target(environ)
        try:
            connection.putrequest(environ["REQUEST_METHOD"], target, skip_host=True,
                                  skip_accept_encoding=True)
            body = _request_body(environ)
            for name, value in _request_headers(environ, len(body)):
                connection.putheader(name, value)
            connection.endheaders(body if body else None)
            response = connection.getresponse()
        except ValueError:  # a header or path http.client refuses (line breaks, controls)
            connection.close()
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Bad request.\n"]
        except OSError as exc:
            connection.close()
            log.warning("upstream %s:%s did not answer: %s", self.host, self.port,
                        type(exc).__name__)
            start_response("502 Bad Gateway", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"The EHR behind this address did not answer (502).\n"]
        headers = [(name, value) for name, value in response.getheaders()
                   if name.lower() not in HOP_BY_HOP]
        start_response(f"{response.status} {response.reason}", headers)
        return _stream(response, connection)


def _request_target(environ: dict[str, Any]) -> str:
    """The path and query as the browser sent them: the server's raw URI when it gives one
    (gunicorn, Werkzeug), else the decoded WSGI path quoted again."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    if raw.startswith("/"):
        return raw
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") or "/"
    target = quote(path.encode("latin-1", "replace"), safe="/%:@!$&'()*+,;=~-._")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    return target


def _request_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return stream.read(int(length)) if int(length) else b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _request_headers(environ: dict[str, Any], length: int) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").title()
        if name.lower() in HOP_BY_HOP or name.lower() in ("content-length", "x-forwarded-for"):
            continue
        yield name, value
    if environ.get("CONTENT_TYPE"):
        yield "Content-Type", environ["CONTENT_TYPE"]
    if length or environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
        yield "Content-Length", str(length)
    if "HTTP_HOST" not in environ:
        yield "Host", f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT')}"
    client = environ.get("REMOTE_ADDR", "")
    earlier = environ.get("HTTP_X_FORWARDED_FOR", "")
    if client:
        yield "X-Forwarded-For", f"{earlier}, {client}" if earlier else client
    if "HTTP_X_FORWARDED_PROTO" not in environ:  # a front web server's value is kept
        yield "X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")
    if "HTTP_HOST" in environ and "HTTP_X_FORWARDED_HOST" not in environ:
        yield "X-Forwarded-Host", environ["HTTP_HOST"]


def _stream(response: http.client.HTTPResponse, connection: http.client.HTTPConnection
            ) -> Iterator[bytes]:
    try:
        while chunk := response.read(CHUNK):
            yield chunk
    finally:
        response.close()
        connection.close()
