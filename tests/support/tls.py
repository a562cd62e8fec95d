"""Throwaway certificates for the test servers (dovecot, SMTP), made with ``cryptography``.

Pytest plugin: fixture ``throwaway_pki`` (session). ``support.dovecot`` and ``support.smtp``
load this plugin themselves.

Two independent certificate authorities are made once per test session:

* the *trusted* CA: clients in the tests trust it (``ca_file``); it signs the ``localhost``
  certificate the test servers present;
* the *untrusted* CA: nothing trusts it; it signs a second ``localhost`` certificate, presented by
  the "untrusted" server, so a client that trusts only ``ca_file`` (or only the system store)
  fails with ``CERTIFICATE_VERIFY_FAILED``.

The server certificates name ``DNS:localhost`` only, not ``127.0.0.1``: connect by the name
``localhost``. Connecting by ``127.0.0.1`` fails the hostname check (also a
``CERTIFICATE_VERIFY_FAILED``, with "Hostname mismatch"), which a test may want on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_HOSTNAME = "localhost"


@dataclass(frozen=True)
class ServerCertificate:
    """A server certificate for ``hostname`` and its key, as PEM files."""

    hostname: str
    cert_file: Path
    key_file: Path
    ca_file: Path  # the CA that signed it

    def server_context(self) -> ssl.SSLContext:
        """An ``ssl`` server context presenting this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(frozen=True)
class ThrowawayPKI:
    """The session's certificates. ``ca_file`` is the one to trust."""

    directory: Path
    ca_file: Path
    server: ServerCertificate
    untrusted_ca_file: Path
    untrusted_server: ServerCertificate

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the throwaway CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "medshake-bridge tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=2)


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    not_before, not_after = _validity()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    hostname: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    not_before, not_after = _validity()
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    # Readable by dovecot's own service users when the tests run as root.
    os.chmod(path, 0o644)
    return path


def _issue(directory: Path, label: str, ca_name: str) -> tuple[Path, ServerCertificate]:
    ca_key, ca_cert = _make_ca(ca_name)
    ca_file = _write(
        directory / f"{label}-ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    key, cert = _make_leaf(SERVER_HOSTNAME, ca_key, ca_cert)
    cert_file = _write(
        directory / f"{label}-server.pem", cert.public_bytes(serialization.Encoding.PEM)
    )
    key_file = _write(directory / f"{label}-server-key.pem", _key_pem(key))
    return ca_file, ServerCertificate(SERVER_HOSTNAME, cert_file, key_file, ca_file)


def make_pki(directory: Path | None = None) -> ThrowawayPKI:
    """Make both CAs and their ``localhost`` certificates under ``directory``.

    Without ``directory`` a new world-traversable temp folder is made (dovecot's service users
    must be able to read the files when the tests run as root); the caller removes it.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="medshake-pki-"))
        os.chmod(directory, 0o755)  # noqa: S103 - dovecot's service users read it (as root)
    ca_file, server = _issue(directory, "trusted", "medshake-bridge test CA (trusted)")
    untrusted_ca_file, untrusted_server = _issue(
        directory, "untrusted", "medshake-bridge test CA (NOT trusted)"
    )
    return ThrowawayPKI(directory, ca_file, server, untrusted_ca_file, untrusted_server)


@pytest.fixture(scope="session")
def throwaway_pki() -> Iterator[ThrowawayPKI]:
    """The session's throwaway certificates (see the module docstring)."""
    pki = make_pki()
    yield pki
    shutil.rmtree(pki.directory, ignore_errors=True)
