"""The sandbox: plainly FAKE stand-ins for Apicrypt, so the bridge runs end to end here.

Apicrypt's programs, keys and cipher belong to APICEM; we ship none of them, never reimplement
the cipher and never claim compatibility. This package provides programs with the same
command-line contract, fake key files with the same names, a relay step that plays APICEM's
server, and ``.aes`` keys with a long code. They use ordinary authenticated encryption
(AES-256-GCM from ``cryptography``) and label every output as sandbox output.

Environment switches (passed to the programs only through the runner's ``passthrough_env``):
:data:`SANDBOX_ENV_VARS`.
"""

from __future__ import annotations

from medshake_bridge.sandbox.aeskey import make_aes_key
from medshake_bridge.sandbox.faults import FAULT_ENV, FAULT_MODES, LOG_ENV
from medshake_bridge.sandbox.keys import YEAR_ENV, make_keys
from medshake_bridge.sandbox.network import SandboxNetwork, create_network
from medshake_bridge.sandbox.programs import PROGRAM_NAMES, install_programs
from medshake_bridge.sandbox.relay_crypto import reencrypt

SANDBOX_ENV_VARS: tuple[str, ...] = (FAULT_ENV, LOG_ENV, YEAR_ENV)

__all__ = [
    "FAULT_ENV",
    "FAULT_MODES",
    "LOG_ENV",
    "PROGRAM_NAMES",
    "SANDBOX_ENV_VARS",
    "SandboxNetwork",
    "YEAR_ENV",
    "create_network",
    "install_programs",
    "make_aes_key",
    "make_keys",
    "reencrypt",
]
