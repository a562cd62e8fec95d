"""A whole sandbox network in one folder: the programs and every user's key folder.

Tests, the demo and the relay all need the same layout, so it is built in one place::

    ROOT/bin/                        the five sandbox programs
    ROOT/network/<user>/Clefs/...    each user's keys; ``network/<user>`` is that user's ``-k``

``ROOT/network`` is what :func:`~medshake_bridge.sandbox.relay_crypto.reencrypt` and
``sandbox reencrypt --network`` take.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medshake_bridge.sandbox.keys import make_keys
from medshake_bridge.sandbox.programs import install_programs


@dataclass(frozen=True)
class SandboxNetwork:
    """Where a sandbox network lives; see the module docstring for the layout."""

    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def network_dir(self) -> Path:
        return self.root / "network"

    def keys_dir(self, user: str) -> Path:
        """The folder to pass with ``-k`` (it contains ``Clefs/``) for ``user``."""
        return self.network_dir / user

    def add_user(self, user: str, year: int | None = None) -> Path:
        """Create ``user``'s keys for ``year`` (default: this year); returns its keys folder."""
        make_keys(user, self.keys_dir(user), year)
        return self.keys_dir(user)


def create_network(
    root: str | os.PathLike[str], users: Iterable[str] = (), *, year: int | None = None
) -> SandboxNetwork:
    """Install the programs under ``root/bin`` and keys for each of ``users``."""
    network = SandboxNetwork(Path(root))
    install_programs(network.bin_dir)
    network.network_dir.mkdir(parents=True, exist_ok=True)
    for user in users:
        network.add_user(user, year)
    return network
