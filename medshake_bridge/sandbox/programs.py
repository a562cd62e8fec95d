"""FAKE stand-ins for the Apicrypt v1 programs and ``ApiV2AESUtility``, run as real processes.

:func:`install_programs` writes five small executable scripts whose ``#!`` line is this Python;
each calls :func:`main` with its own name. They follow the command-line contract of DOMAIN §2
so that the bridge's production code paths (runner, back-end, relay) run unchanged against
them; everything they write is labelled as sandbox output and none of it is Apicrypt.

Contract::

    apicrypt      -s SRC -o DST -u USER -k KEYDIR -d R1,R2 [-v]
    apicryptpj    -s FILE [-s FILE2 ...] -o DST.apz -u USER -k KEYDIR -d R1,R2 [-v]
    apiuncrypt    -s SRC [-o DST] -k KEYDIR          (no -o: writes SRC.txt)
    apiuncryptpj  -s FILE.apz -o DESTDIR/ -k KEYDIR   (writes the files it holds into DESTDIR)
    ApiV2AESUtility SOURCE DESTINATION CODE   (or --code-file=PATH as the third argument)

``-k`` is the folder that contains ``Clefs/``. Repeating ``-s`` is a sandbox extension that puts
several files in one ``.apz`` (a real ``.apz`` may hold several). Exit statuses: 0 done, 1 injected
``exit1`` fault, 2 usage or input error, 3 key missing, 4 key of the wrong year, 5 not a
recipient, 6 tampered or not a sandbox armour, 7 wrong long code (see ``sandbox/errors.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from medshake_bridge.sandbox import apz, faults
from medshake_bridge.sandbox.aeskey import decrypt_aes_key
from medshake_bridge.sandbox.armour import open_armour, read_input, seal
from medshake_bridge.sandbox.errors import SandboxError, SandboxUsageError
from medshake_bridge.sandbox.keys import check_user, current_year, load_key, to_yy

PROGRAM_NAMES = ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj", "ApiV2AESUtility")
LABEL = "MEDSHAKE SANDBOX, FAKE, NOT APICRYPT"

_SCRIPT = """#!{python}
# MEDSHAKE SANDBOX: a FAKE stand-in for the program {name!r}, written by medshake-bridge.
# It is NOT Apicrypt, shares no code or cipher with it, and only works with sandbox keys.
import sys
import types

# Load the sandbox without the Flask host that medshake_bridge/__init__.py imports: a program
# start must stay fast, it runs once per message part.
package = types.ModuleType("medshake_bridge")
package.__path__ = [{package_dir!r}]
sys.modules["medshake_bridge"] = package
from medshake_bridge.sandbox.programs import main  # noqa: E402

sys.exit(main({name!r}, sys.argv[1:]))
"""


def install_programs(dest_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the five sandbox programs into ``dest_dir`` (created if needed), mode 0755."""
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    package_dir = str(Path(__file__).resolve().parents[1])  # .../medshake_bridge
    written = []
    for name in PROGRAM_NAMES:
        target = folder / name
        temporary = folder / f".{name}.tmp"
        script = _SCRIPT.format(python=sys.executable, name=name, package_dir=package_dir)
        temporary.write_text(script, "utf-8")
        temporary.chmod(0o755)
        os.replace(temporary, target)
        written.append(target)
    return written


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SandboxUsageError(f"{message}.", fix=self.format_usage().strip())


def _parser(program: str) -> argparse.ArgumentParser:
    """argparse that reports usage errors as sandbox errors (exit 2), without --help or abbrevs."""
    return _Parser(prog=program, add_help=False, allow_abbrev=False)


def _recipients(text: str) -> list[str]:
    names = text.split(",")
    for name in names:
        check_user(name, what="recipient")
    return names


def _write(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise SandboxUsageError(
            f"Cannot write {path} ({exc.strerror}).", fix="Check the -o path and its folder."
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _say(program: str, verbose: bool, text: str) -> None:
    if verbose:
        print(f"{program} ({LABEL}): {text}")


def _encrypt(program: str, argv: Sequence[str]) -> list[Path]:
    parser = _parser(program)
    parser.add_argument("-s", dest="sources", action="append", required=True)
    parser.add_argument("-o", dest="output", required=True)
    parser.add_argument("-u", dest="user", required=True)
    parser.add_argument("-k", dest="keys", required=True)
    parser.add_argument("-d", dest="recipients", required=True)
    parser.add_argument("-v", dest="verbose", action="store_true")
    args = parser.parse_args(argv)
    check_user(args.user)
    recipients = _recipients(args.recipients)
    key = load_key(args.keys, args.user, to_yy(current_year()))
    if program == "apicrypt":
        if len(args.sources) != 1:
            raise SandboxUsageError("apicrypt takes one -s.", fix="Encrypt one body per call.")
        kind, clear = "body", read_input(args.sources[0])
    else:
        kind = "apz"
        clear = apz.pack([(Path(s).name, read_input(s)) for s in args.sources])
    output = Path(args.output)
    _write(output, seal(kind, clear, sender=args.user, recipients=recipients, key=key))
    _say(
        program,
        args.verbose,
        f"encrypted {len(args.sources)} input(s) as {args.user} for "
        f"{','.join(recipients)} with key year {key.yy}",
    )
    return [output]


def _uncrypt(program: str, argv: Sequence[str]) -> list[Path]:
    parser = _parser(program)
    parser.add_argument("-s", dest="source", required=True)
    parser.add_argument("-o", dest="output", required=program == "apiuncryptpj")
    parser.add_argument("-k", dest="keys", required=True)
    parser.add_argument("-v", dest="verbose", action="store_true")
    args = parser.parse_args(argv)
    armour = read_input(args.source)
    if program == "apiuncrypt":
        header, clear = open_armour(armour, args.keys, kind="body")
        output = Path(args.output) if args.output else Path(f"{args.source}.txt")
        _write(output, clear)
        _say(program, args.verbose, f"decrypted a body from {header.sender}")
        return [output]
    header, container = open_armour(armour, args.keys, kind="apz")
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in apz.unpack(container):
        _write(_free_name(folder, name), data)
    _say(program, args.verbose, f"decrypted an attachment from {header.sender}")
    return [folder]


def _free_name(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or ``stem (2).ext`` etc. when taken: never overwrite."""
    candidate = folder / name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, dot, suffix = name, "", ""
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem} ({number}){dot}{suffix}"
        number += 1
    return candidate


def _aes_utility(program: str, argv: Sequence[str]) -> list[Path]:
    if len(argv) != 3:
        raise SandboxUsageError(
            f"{program} takes exactly three arguments, got {len(argv)}.",
            fix=f"Run: {program} SOURCE.aes DESTINATION CODE",
        )
    source, destination, code = argv
    if code.startswith("--code-file="):  # the sandbox also reads the code from a file
        code = Path(code.removeprefix("--code-file=")).read_text(encoding="utf-8").strip()
    return [decrypt_aes_key(source, destination, code)]


_COMMANDS: dict[str, Callable[[str, Sequence[str]], list[Path]]] = {
    "apicrypt": _encrypt,
    "apicryptpj": _encrypt,
    "apiuncrypt": _uncrypt,
    "apiuncryptpj": _uncrypt,
    "ApiV2AESUtility": _aes_utility,
}


def main(program: str, argv: Sequence[str]) -> int:
    """Run one sandbox program; returns its exit status. Never raises for foreseen errors."""
    try:
        fault = faults.active_fault(program)
        extra: dict[str, object] = {}
        if fault == "hang":
            extra["hang_child_pid"] = faults.start_hang_child()
        faults.log_invocation(program, argv, fault=fault, extra=extra)
        if program not in _COMMANDS:
            raise SandboxUsageError(f"Unknown sandbox program {program!r}.", fix="Reinstall them.")
        if fault == "exit1":
            print(f"{program} ({LABEL}): injected fault exit1", file=sys.stderr)
            return 1
        if fault == "hang":
            faults.hang()
        if fault == "noise":
            faults.make_noise()
        outputs = _COMMANDS[program](program, argv)
        if fault in {"noout", "empty", "truncate", "garbage"}:
            faults.damage_outputs(fault, outputs)
    except SandboxError as exc:
        print(f"{program} ({LABEL}): error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
