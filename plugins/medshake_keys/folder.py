"""The state of one key folder: where ``Clefs/`` is and whether the bridge may use it.

The programs read the keys and may rewrite them, so the folder must be readable *and* writable
by the account that runs them; the page shows both, with a plain explanation when one is
missing, because "permission denied" in a program's output is a poor way to learn it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from medshake_bridge.api import _

CLEFS = "Clefs"


@dataclass(frozen=True)
class FolderStatus:
    """``keys_dir`` is the configured parent (``apicryptCheminVersClefs``), ``clefs`` its
    ``Clefs/`` child; ``problems`` are plain sentences (empty when all is well)."""

    keys_dir: Path | None
    clefs: Path | None
    exists: bool
    readable: bool
    writable: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def folder_status(keys_dir: Path | None) -> FolderStatus:
    """Look at ``keys_dir/Clefs`` without changing anything."""
    if keys_dir is None:
        return FolderStatus(None, None, False, False, False, [
            _("No key folder is configured. Set “Keys folder” (apicryptCheminVersClefs) on "
              "the global settings page to the folder that contains Clefs/.")])
    clefs = keys_dir / CLEFS
    if not keys_dir.is_dir():
        return FolderStatus(keys_dir, clefs, False, False, False, [
            _("The folder %(path)s does not exist (or is not a folder). Create it, or correct "
              "“Keys folder” (apicryptCheminVersClefs): it must be the folder that contains "
              "Clefs/, not Clefs/ itself.", path=str(keys_dir))])
    if not clefs.exists():
        writable = os.access(keys_dir, os.W_OK | os.X_OK)
        problems = [] if writable else [
            _("Clefs/ does not exist yet and the bridge may not create it in %(path)s. Give "
              "the bridge's account write access to that folder.", path=str(keys_dir))]
        return FolderStatus(keys_dir, clefs, False, writable, writable, problems)
    if not clefs.is_dir():
        return FolderStatus(keys_dir, clefs, True, False, False, [
            _("%(path)s is a file, not a folder: the keys cannot be stored there. Move that "
              "file away so that Clefs can be a folder.", path=str(clefs))])
    readable = os.access(clefs, os.R_OK | os.X_OK)
    writable = os.access(clefs, os.W_OK | os.X_OK)
    problems = []
    if not readable:
        problems.append(_("The bridge may not read %(path)s: the Apicrypt programs could not "
                          "find the keys. Give the bridge's account read access.",
                          path=str(clefs)))
    if not writable:
        problems.append(_("The bridge may not write in %(path)s: keys cannot be added or "
                          "removed, and the programs may need to update them. Give the "
                          "bridge's account write access.", path=str(clefs)))
    return FolderStatus(keys_dir, clefs, True, readable, writable, problems)
