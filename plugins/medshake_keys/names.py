"""Key file names: what the ``Clefs/`` folder may hold, and what a name says.

Apicrypt names its yearly keys ``<user>.<yy>`` and ``Master.<yy>`` (yy = year - 1900, so 2026
is ``126``); Apicrypt v2 delivers next year's key encrypted as ``<name>.aes``. A name is the only
thing an upload or a command gives us, and it becomes a path, so :func:`validate_name` refuses
anything that is not exactly one of those patterns before any file is touched: no folder part,
no hidden file, no control character, nothing a program could read as an option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medshake_bridge.api import _
from medshake_keys.errors import KeyNameError

MASTER = "Master"
AES_SUFFIX = ".aes"
MAX_NAME_LENGTH = 128
# A local part such as prenom.NOM (the v1 back-end's pattern): letters, digits, '.', '-', '_',
# starting and ending with a letter or digit.
USER_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?"
_KEY = re.compile(rf"(?P<user>{USER_PART})\.(?P<yy>[0-9]{{2,3}})(?P<aes>\.aes)?\Z")


@dataclass(frozen=True)
class KeyName:
    """A parsed key file name. ``kind`` is ``key`` (a user's), ``master`` or ``aes``."""

    name: str
    user: str
    yy: int
    encrypted: bool

    @property
    def year(self) -> int:
        return self.yy + 1900

    @property
    def is_master(self) -> bool:
        return self.user == MASTER

    @property
    def kind(self) -> str:
        if self.encrypted:
            return "aes"
        return "master" if self.is_master else "key"

    @property
    def decrypted_name(self) -> str:
        """The key an ``.aes`` opens into (``bob.DURAND.127.aes`` -> ``bob.DURAND.127``)."""
        return self.name[: -len(AES_SUFFIX)] if self.encrypted else self.name


def parse_name(name: str) -> KeyName | None:
    """What a file name says, or ``None`` when it is not a key name."""
    match = _KEY.match(name) if isinstance(name, str) else None
    if match is None:
        return None
    return KeyName(name=name, user=match["user"], yy=int(match["yy"]),
                   encrypted=bool(match["aes"]))


def key_file_name(user: str, year: int) -> str:
    """``<user>.<year - 1900>``: the file a user's yearly key lives in."""
    return f"{user}.{year - 1900}"


def validate_name(name: object) -> KeyName:
    """Return the parsed name, or raise :class:`KeyNameError` saying what is wrong with it.

    The checks run from the most dangerous to the most ordinary, so the message names the real
    problem (``../x`` is refused for its folder part, not for its pattern).
    """
    if not isinstance(name, str) or not name.strip():
        raise KeyNameError(_("The key file has no name."),
                           fix=_("Choose the key file again; its name must be kept as APICEM "
                                 "sent it."))
    shown = name.encode("unicode_escape").decode("ascii")[:80]
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise KeyNameError(
            _("The name %(name)s contains a control character (NUL, new line...): refused.",
              name=shown),
            fix=_("Rename the file to its plain key name, such as prenom.NOM.126."))
    if "/" in name or "\\" in name or name in (".", ".."):
        raise KeyNameError(
            _("The name %(name)s contains a folder part: only a plain file name is accepted.",
              name=shown),
            fix=_("Send the key file itself, named like prenom.NOM.126; the folder is chosen "
                  "by the bridge."))
    if name.startswith("."):
        raise KeyNameError(
            _("The name %(name)s is a hidden file name: refused.", name=shown),
            fix=_("Send the key file itself, named like prenom.NOM.126."))
    if len(name) > MAX_NAME_LENGTH:
        raise KeyNameError(
            _("The name is longer than %(count)s characters.", count=MAX_NAME_LENGTH),
            fix=_("Send the key file under the name APICEM gave it."))
    parsed = parse_name(name)
    if parsed is None:
        raise KeyNameError(
            _("%(name)s is not a key file name.", name=shown),
            fix=_("Accepted names: prenom.NOM.126 (a user's key for 2026), Master.126, and "
                  "the same followed by .aes for an encrypted key. Keep the case of the name."))
    return parsed
