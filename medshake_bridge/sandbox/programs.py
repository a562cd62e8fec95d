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

import os
import sys

from medshake_bridge.sandbox import faults
from medshake_bridge.sandbox.errors import SandboxError, SandboxUsageError
from medshake_bridge.sandbox.keys import SandboxKey, check_user

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:  # annotations only: collections.abc and contextlib cost 4 ms of a start
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import BinaryIO

# The programs run once per message part, so their start-up counts: the cryptography modules
# are imported only by the command that needs them (see ``_encrypt``, ``_uncrypt``,
# ``_aes_utility``), and the generated scripts load neither ``medshake_bridge/__init__.py``
# (Flask) nor ``medshake_bridge/sandbox/__init__.py`` (the relay, the network, the .aes keys).

PROGRAM_NAMES = ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj", "ApiV2AESUtility")
LABEL = "MEDSHAKE SANDBOX, FAKE, NOT APICRYPT"

_SCRIPT = """#!{python} -IS
# MEDSHAKE SANDBOX: a FAKE stand-in for the program {name!r}, written by medshake-bridge.
# It is NOT Apicrypt, shares no code or cipher with it, and only works with sandbox keys.
# -IS: no site module (its .pth files cost a third of a start), no PYTHON* variables; the
# folders the programs import from are written here instead.
import sys
import types

sys.path.extend({library_path!r})

# Load the sandbox without the Flask host that medshake_bridge/__init__.py imports, nor the
# sandbox's own __init__ (relay, network): a program start must stay fast, it runs once per
# message part.
for name, path in (("medshake_bridge", {package_dir!r}),
                   ("medshake_bridge.sandbox", {sandbox_dir!r})):
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package
from medshake_bridge.sandbox.programs import main  # noqa: E402

sys.exit(main({name!r}, sys.argv[1:]))
"""


def install_programs(dest_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the five sandbox programs into ``dest_dir`` (created if needed), mode 0755."""
    from pathlib import Path

    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    package_dir = str(Path(__file__).resolve().parents[1])  # .../medshake_bridge
    written = []
    for name in PROGRAM_NAMES:
        target = folder / name
        temporary = folder / f".{name}.tmp"
        script = _SCRIPT.format(
            python=sys.executable,
            name=name,
            package_dir=package_dir,
            sandbox_dir=str(Path(package_dir) / "sandbox"),
            library_path=_library_path(),
        )
        temporary.write_text(script, "utf-8")
        temporary.chmod(0o755)
        os.replace(temporary, target)
        written.append(target)
    return written


def _library_path() -> list[str]:
    """The installed-package folders of this Python (where ``cryptography`` and ``cffi``
    live): its site folders, any site or dist-packages folder on its path (a venv made with
    --system-site-packages, Debian's python3-cryptography), and cryptography's own folder."""
    import site

    import cryptography

    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    folders += [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    folders.append(os.path.dirname(os.path.dirname(os.path.abspath(cryptography.__file__))))
    return [folder for folder in dict.fromkeys(folders) if os.path.isdir(folder)]


class _Options:
    """The parsed options of one call: single letters, a value each except ``-v``."""

    def __init__(self, values: dict[str, list[str]], verbose: bool) -> None:
        self.values = values
        self.verbose = verbose

    def one(self, letter: str) -> str | None:
        found = self.values.get(letter)
        return found[-1] if found else None

    def all(self, letter: str) -> list[str]:
        return self.values.get(letter, [])


def _parse(
    program: str, argv: Sequence[str], *, valued: str, required: str, repeated: str = ""
) -> _Options:
    """Parse ``-x VALUE`` / ``-xVALUE`` options and the ``-v`` flag, as the contract says.

    Hand-written rather than ``argparse``, whose import is a good part of a program's start-up
    (it runs once per message part). Usage errors exit 2 with the usage line as the fix.
    """
    usage = f"usage: {program} " + " ".join(
        f"-{letter} VALUE" if letter in required else f"[-{letter} VALUE]" for letter in valued
    ) + " [-v]"
    if repeated:
        usage += f" (-{repeated} may be repeated)"
    values: dict[str, list[str]] = {}
    verbose = False
    index = 0
    while index < len(argv):
        item = str(argv[index])
        index += 1
        if item == "-v":
            verbose = True
            continue
        letter = item[1:2] if item.startswith("-") else ""
        if not letter or letter not in valued:
            raise SandboxUsageError(f"unrecognized argument: {item}.", fix=usage)
        value = item[2:]
        if not value:
            if index >= len(argv):
                raise SandboxUsageError(f"argument -{letter}: expected one argument.", fix=usage)
            value = str(argv[index])
            index += 1
        if letter in values and letter not in repeated:
            values[letter][-1:] = [value]
        else:
            values.setdefault(letter, []).append(value)
    missing = [f"-{letter}" for letter in required if letter not in values]
    if missing:
        raise SandboxUsageError(
            f"the following arguments are required: {', '.join(missing)}.", fix=usage
        )
    return _Options(values, verbose)


def _recipients(text: str) -> list[str]:
    names = text.split(",")
    for name in names:
        check_user(name, what="recipient")
    return names


_BLOCK = 1 << 20
# Inputs up to this size are encrypted or decrypted in one step, in memory (a body, a small
# attachment: the common case, where start-up time dominates); larger ones are streamed.
SMALL_INPUT = 4 << 20


class _open_output:  # noqa: N801 - used as a function: ``with _open_output(path) as out``
    """Write ``path`` through a hidden file renamed into place on success (removed on error).

    A class rather than ``contextlib.contextmanager``: importing contextlib (and the
    collections and functools it pulls in) costs a sandbox program about 2 ms of its start.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        folder, name = os.path.split(path)
        self._temporary = os.path.join(folder, f".{name}.{os.getpid()}.part")

    def __enter__(self) -> BinaryIO:
        try:
            fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise SandboxUsageError(
                f"Cannot write {self._path} ({exc.strerror}).",
                fix="Check the -o path and its folder.",
            ) from exc
        self._handle = os.fdopen(fd, "wb")
        return self._handle

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            self._handle.close()
            if kind is None:
                os.replace(self._temporary, self._path)
                return
        except BaseException:
            _remove(self._temporary)
            raise
        _remove(self._temporary)


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _say(program: str, verbose: bool, text: str) -> None:
    if verbose:
        print(f"{program} ({LABEL}): {text}")


def _encrypt(program: str, argv: Sequence[str]) -> list[str]:
    options = _parse(program, argv, valued="soukd", required="soukd", repeated="s")
    sources = options.all("s")
    user, keys = options.one("u") or "", options.one("k") or ""
    check_user(user)
    recipients = _recipients(options.one("d") or "")
    from medshake_bridge.sandbox.armour import read_input, seal
    from medshake_bridge.sandbox.keys import current_year, load_key, to_yy

    key = load_key(keys, user, to_yy(current_year()))
    if program == "apicrypt" and len(sources) != 1:
        raise SandboxUsageError("apicrypt takes one -s.", fix="Encrypt one body per call.")
    output = options.one("o") or ""
    # A .apz is binary (the armour's Version 2): the mail base64-encodes it anyway, as it
    # does a real one; the body is text armour, it is the mail's text.
    kind = "body" if program == "apicrypt" else "apz"
    if _total_size(sources) <= SMALL_INPUT:  # in one step: no streaming cipher to import
        if program == "apicrypt":
            clear = read_input(sources[0])
        else:
            from medshake_bridge.sandbox import apz

            clear = apz.pack([(os.path.basename(s), read_input(s)) for s in sources])
        with _open_output(output) as out:
            out.write(seal(kind, clear, sender=user, recipients=recipients, key=key,
                           binary=kind == "apz"))
    else:
        _encrypt_stream(sources, output, kind, user=user, recipients=recipients, key=key)
    _say(
        program,
        options.verbose,
        f"encrypted {len(sources)} input(s) as {user} for "
        f"{','.join(recipients)} with key year {key.yy}",
    )
    return [output]


def _total_size(paths: Sequence[str]) -> int:
    try:
        return sum(os.stat(path).st_size for path in paths)
    except OSError:
        return 0  # reported with its file name when the input is read


def _encrypt_stream(
    sources: Sequence[str],
    output: str,
    kind: str,
    *,
    user: str,
    recipients: list[str],
    key: SandboxKey,
) -> None:
    """Encrypt large inputs block by block: memory stays flat whatever their size."""
    from medshake_bridge.sandbox import apz
    from medshake_bridge.sandbox.armour import ArmourWriter, open_input

    with _open_output(output) as out:
        writer = ArmourWriter(out, kind, sender=user, recipients=recipients, key=key,
                              binary=kind == "apz")
        if kind == "body":
            with open_input(sources[0]) as source:
                while block := source.read(_BLOCK):
                    writer.write(block)
        else:
            apz.pack_files([(os.path.basename(s), s) for s in sources], writer)
        writer.close()


def _uncrypt(program: str, argv: Sequence[str]) -> list[str]:
    options = _parse(
        program, argv, valued="sok", required="sok" if program == "apiuncryptpj" else "sk"
    )
    source, keys, output_option = options.one("s") or "", options.one("k") or "", options.one("o")
    from medshake_bridge.sandbox.armour import open_armour_file, open_input

    if program == "apiuncrypt":
        output = output_option or f"{source}.txt"
        header = open_armour_file(source, output, keys, kind="body")
        _say(program, options.verbose, f"decrypted a body from {header.sender}")
        return [output]
    from medshake_bridge.sandbox import apz
    from medshake_bridge.sandbox.armour import opened_blocks

    folder = output_option or ""
    os.makedirs(folder, exist_ok=True)
    # The clear container is authenticated as a whole before any file it holds gets its name:
    # the files are written as it is decrypted, under hidden names until the tag is checked.
    with open_input(source) as handle:
        header, blocks = opened_blocks(handle, keys, kind="apz")
        apz.unpack_blocks_to_folder(blocks, folder, _free_name)
    _say(program, options.verbose, f"decrypted an attachment from {header.sender}")
    return [folder]


def _free_name(folder: str, name: str) -> str:
    """``name`` in ``folder``, or ``stem (2).ext`` etc. when taken: never overwrite."""
    candidate = os.path.join(folder, name)
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, dot, suffix = name, "", ""
    number = 2
    while os.path.lexists(candidate):
        candidate = os.path.join(folder, f"{stem} ({number}){dot}{suffix}")
        number += 1
    return candidate


def _aes_utility(program: str, argv: Sequence[str]) -> list[str | Path]:
    if len(argv) != 3:
        raise SandboxUsageError(
            f"{program} takes exactly three arguments, got {len(argv)}.",
            fix=f"Run: {program} SOURCE.aes DESTINATION CODE",
        )
    source, destination, code = argv
    if code.startswith("--code-file="):  # the sandbox also reads the code from a file
        with open(code.removeprefix("--code-file="), encoding="utf-8") as handle:
            code = handle.read().strip()
    from medshake_bridge.sandbox.aeskey import decrypt_aes_key

    return [decrypt_aes_key(source, destination, code)]


_COMMANDS: dict[str, Callable[[str, Sequence[str]], Sequence[str | Path]]] = {
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
