"""Opening a ``.aes`` yearly key with the long code, through the v2 plugin's ``open_aes_key``.

The command (``apicrypt2AesCommand``, default ``ApiV2AESUtility {source} {destination}
{code}``) and the way it runs belong to the Apicrypt v2 plugin; this module only checks the
code first, says whether the program is there, and turns the runner's typed failures into
messages an admin can act on. The code is passed to the runner as a secret: it never reaches a
log or an error message.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medshake_bridge.api import (
    MINIMAL_PATH,
    ConfigurationError,
    ProgramFailedError,
    ProgramMissingError,
    ProgramNotExecutableError,
    ProgramOutputMissingError,
    ProgramRunError,
    ProgramTimeoutError,
    Runner,
    _,
)
from medshake_keys.errors import AesDecryptError, LongCodeError

PROGRAM = "ApiV2AESUtility"
# APICEM's code format is not public: letters, digits and the separators people type from
# paper; never a leading '-' (it would read as an option), never a control character.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+/=-]{2,198}[A-Za-z0-9=]\Z")


def validate_code(code: object) -> str:
    """The code without surrounding spaces, or :class:`LongCodeError` (the code not quoted)."""
    text = code.strip() if isinstance(code, str) else ""
    if not text:
        raise LongCodeError(_("No long code was given."),
                            fix=_("Type the long code printed on APICEM's letter."))
    if not _CODE.match(text):
        raise LongCodeError(
            _("The long code contains characters a code cannot have (or is too short or too "
              "long); nothing was run."),
            fix=_("Type it again exactly as printed: letters, digits and dashes."))
    return text


def _service() -> Any:
    """The v2 plugin's service module (imported late: the keys plugin works without it)."""
    from medshake_apicrypt_v2 import service

    return service


def aes_program(settings: Mapping[str, Any]) -> str | None:
    """The program ``apicrypt2AesCommand`` would run, or ``None`` when it cannot be built."""
    try:
        argv = _service().aes_argv(settings, Path("key.aes"), Path("key"), "CODE")
    except (ImportError, ConfigurationError):
        return None
    return argv[0]


def aes_available(settings: Mapping[str, Any]) -> bool:
    """Offer "decrypt with the long code" when the program is there or v2 is in use."""
    if str(settings.get("apicryptVersion") or "") == "2":
        return True
    program = aes_program(settings)
    if program is None:
        return False
    if os.sep in program:
        return Path(program).is_file()
    return shutil.which(program, path=MINIMAL_PATH) is not None


def run_aes_utility(settings: Mapping[str, Any], runner: Runner, source: Path,
                    destination: Path, code: str, *, name: str) -> None:
    """Run the configured command; raise :class:`AesDecryptError` with a plain message."""
    try:
        service = _service()
    except ImportError as exc:
        raise AesDecryptError(
            _("The Apicrypt v2 plugin is not installed: %(name)s cannot be opened.", name=name),
            fix=_("Install medshake-bridge with its Apicrypt v2 plugin.")) from exc
    try:
        service.open_aes_key(settings, runner, source, destination, code)
    except ConfigurationError as exc:
        raise AesDecryptError(
            _("The .aes decryption command is not usable: %(reason)s", reason=exc.message),
            fix=_("Correct apicrypt2AesCommand on the global settings page, e.g. "
                  "“ApiV2AESUtility {source} {destination} {code}”.")) from None
    except (ProgramMissingError, ProgramNotExecutableError) as exc:
        raise AesDecryptError(
            _("%(program)s cannot be run, so %(name)s was not opened: %(reason)s",
              program=PROGRAM, name=name, reason=exc.message),
            fix=_("Install APICEM's ApiV2AESUtility in the Apicrypt programs folder "
                  "(apicryptCheminVersBinaires) and make it executable.")) from None
    except ProgramTimeoutError as exc:
        raise AesDecryptError(
            _("%(program)s did not finish in time and was stopped; %(name)s was not opened.",
              program=PROGRAM, name=name),
            fix=_("Check that the program does not wait for input, then try again; raise "
                  "the program timeout (apicryptCommandTimeout) if the machine is slow. "
                  "Detail: %(reason)s", reason=exc.message)) from None
    except ProgramFailedError as exc:
        status = exc.result.returncode if exc.result is not None else "?"
        raise AesDecryptError(
            _("%(program)s refused to open %(name)s (exit status %(status)s): the long code "
              "is most likely wrong. Detail: %(reason)s", program=PROGRAM, name=name,
              status=status, reason=exc.message),
            fix=_("Type the long code again exactly as printed on APICEM's letter for this "
                  "year; the .aes key is kept.")) from None
    except ProgramOutputMissingError as exc:
        raise AesDecryptError(
            _("%(program)s ended without writing the key of %(name)s. Detail: %(reason)s",
              program=PROGRAM, name=name, reason=exc.message),
            fix=_("Check the program's messages in the log and that the key folder is "
                  "writable; the .aes key is kept.")) from None
    except ProgramRunError as exc:
        raise AesDecryptError(
            _("%(program)s failed: %(reason)s", program=PROGRAM, reason=exc.message),
            fix=exc.fix) from None
