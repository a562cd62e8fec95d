"""A throwaway certificate for the FAKE sandbox relay's STARTTLS (demo use only).

The bridge verifies TLS even against the sandbox: the demo points ``apicryptTlsCaFile`` at this
self-signed ``localhost`` certificate, so the production path (verified STARTTLS) is the one
exercised.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medshake_bridge.paths import ensure_private_dir, write_private_file


def make_localhost_certificate(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write (or reuse) ``relay-cert.pem`` and ``relay-key.pem`` in ``folder``."""
    base = ensure_private_dir(folder)
    cert_path, key_path = base / "relay-cert.pem", base / "relay-key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         "FAKE medshake-bridge sandbox relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private_file(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    write_private_file(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
