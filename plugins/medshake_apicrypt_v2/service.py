"""Admin actions on the v2 companion and keys: restart it, open a ``.aes`` yearly key.

Both run a configurable command (``apicrypt2RestartCommand``, ``apicrypt2AesCommand``) through
the host's :class:`~medshake_bridge.runner.Runner`: an argument list split with
:func:`shlex.split` and never a shell, so text from the settings cannot chain commands; shell
operators are refused outright (like ``apicryptCommandPrefix``), because an admin who wrote
them expected a shell and would get something else. The pages add the audit record and show
the returned :class:`~medshake_bridge.runner.ProgramResult`.
"""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medshake_apicrypt_v2.errors import ApicryptV2ConfigError
from medshake_bridge.api import ProgramResult, Runner

logger = logging.getLogger(__name__)

DEFAULT_RESTART_COMMAND = "sudo -n service compagnonApicrypt restart"
DEFAULT_AES_COMMAND = "ApiV2AESUtility {source} {destination} {code}"
# Characters that only mean something to a shell (the runner's parse_prefix refuses the same).
SHELL_ONLY = (";", "|", "&", "<", ">", "`", "$(", "${", "\n")
AES_PLACEHOLDERS = ("{source}", "{destination}")
# The long code: as an argument ({code}, what APICEM's ApiV2AESUtility takes, visible in `ps`
# during the run) or as the path of a private file holding it ({code_file}, for a program or a
# wrapper that can read it; the file is 0600 and removed after the run).
CODE_PLACEHOLDERS = ("{code}", "{code_file}")


def parse_command(text: str | None, *, setting: str) -> list[str]:
    """Split a command from the settings into arguments, refusing shell syntax.

    ``setting`` names the setting in the error, so the admin knows what to correct.
    """
    if not text or not text.strip():
        raise ApicryptV2ConfigError(
            f"The setting {setting} is empty.", fix=f"Set {setting} to a command."
        )
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise ApicryptV2ConfigError(
            f"The command in {setting} cannot be split into arguments ({exc}).",
            fix="Close the quotes, or write plain words such as "
            f"'{DEFAULT_RESTART_COMMAND}'.",
        ) from exc
    for part in parts:
        if any(token in part for token in SHELL_ONLY):
            raise ApicryptV2ConfigError(
                f"The command in {setting} contains shell syntax ({part!r}); the bridge runs "
                "commands without a shell.",
                fix="Use one program and its arguments only, e.g. "
                f"'{DEFAULT_RESTART_COMMAND}'; put anything more in a script and name it.",
            )
    return parts


def restart_argv(settings: Mapping[str, Any]) -> list[str]:
    """The argument list :func:`restart_companion` would run (shown before the admin confirms)."""
    text = settings.get("apicrypt2RestartCommand")
    return parse_command(
        DEFAULT_RESTART_COMMAND if text is None else str(text), setting="apicrypt2RestartCommand"
    )


def _own_runner(runner: Runner | None) -> Runner:
    """The host's runner without its command prefix: the restart command carries its own
    ``sudo -n``, and ``sudo -n sudo -n service ...`` would need a second sudoers rule."""
    if runner is None:
        return Runner()
    return Runner(
        (), timeout=runner.timeout, passthrough_env=runner.passthrough_env, redact=runner.redact
    )


def restart_companion(settings: Mapping[str, Any], runner: Runner | None = None) -> ProgramResult:
    """Run ``apicrypt2RestartCommand`` (default ``sudo -n service compagnonApicrypt restart``).

    Returns the program's result (argv, status, stdout, stderr, duration) for the page to show;
    a failure raises the runner's typed error (``ProgramFailedError``, ``ProgramTimeoutError``,
    ``ProgramMissingError``...), which carries the result too. The caller audits who asked.
    """
    argv = restart_argv(settings)
    logger.info("apicrypt v2: restarting the companion with %s", argv)
    return _own_runner(runner).run(argv[0], argv[1:])


def code_on_command_line(settings: Mapping[str, Any]) -> bool:
    """True when ``apicrypt2AesCommand`` passes the long code as an argument (``{code}``)."""
    return "{code}" in str(settings.get("apicrypt2AesCommand") or DEFAULT_AES_COMMAND)


def aes_argv(settings: Mapping[str, Any], source: Path, destination: Path, code: str,
             code_file: Path | None = None) -> list[str]:
    """``apicrypt2AesCommand`` with its placeholders filled, one argument each.

    Placeholders are replaced after splitting, so a path with spaces stays one argument. A bare
    program name is looked for in ``apicryptCheminVersBinaires``, where APICEM's programs live.
    """
    template = settings.get("apicrypt2AesCommand") or DEFAULT_AES_COMMAND
    parts = parse_command(str(template), setting="apicrypt2AesCommand")
    missing = [p for p in AES_PLACEHOLDERS if not any(p in part for part in parts)]
    if not any(p in part for part in parts for p in CODE_PLACEHOLDERS):
        missing.append("{code} or {code_file}")
    if missing:
        raise ApicryptV2ConfigError(
            f"apicrypt2AesCommand lacks {', '.join(missing)}.",
            fix=f"Write it like '{DEFAULT_AES_COMMAND}'.",
        )
    values = {"{source}": os.fspath(source), "{destination}": os.fspath(destination),
              "{code_file}": os.fspath(code_file) if code_file else "", "{code}": code}
    argv = []
    for part in parts:
        for placeholder, value in values.items():
            part = part.replace(placeholder, value)
        argv.append(part)
    binaries = str(settings.get("apicryptCheminVersBinaires") or "")
    if binaries and os.sep not in argv[0]:
        argv[0] = str(Path(binaries) / argv[0])
    return argv


def open_aes_key(
    settings: Mapping[str, Any],
    runner: Runner,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    code: str,
) -> Path:
    """Decrypt a yearly ``.aes`` key with the long code from APICEM's letter.

    Runs ``apicrypt2AesCommand`` through the host's runner (its prefix applies, as for the v1
    programs); the code is redacted from logs and errors. Returns ``destination``.
    """
    target = Path(destination)
    if code_on_command_line(settings):
        argv = aes_argv(settings, Path(source), target, code)
        runner.run(argv[0], argv[1:], expect_output=target, secrets=[code])
        return target
    with tempfile.TemporaryDirectory(prefix="medshake-aes-") as private:  # 0700
        code_file = Path(private) / "code"
        descriptor = os.open(code_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(code + "\n")
        argv = aes_argv(settings, Path(source), target, code, code_file)
        runner.run(argv[0], argv[1:], expect_output=target, secrets=[code])
    return target


def sudoers_lines(account: str = "www-data", settings: Mapping[str, Any] | None = None
                  ) -> list[str]:
    """The sudoers lines that let ``account`` run the restart command with ``sudo -n``.

    From the setup guide's ``service compagnonApicrypt *`` rule; the service program's path is
    the one sudo will use (``/usr/sbin/service`` on Debian and Ubuntu).
    """
    argv = restart_argv(settings or {})
    command = argv
    if command and Path(command[0]).name == "sudo":
        command = command[1:]
        while command and command[0].startswith("-"):
            command = command[1:]
    if not command:
        command = ["service", "compagnonApicrypt", "restart"]
    program = command[0]
    if os.sep not in program:
        program = f"/usr/sbin/{program}" if program == "service" else f"/usr/bin/{program}"
    unit = command[1] if len(command) > 1 else "compagnonApicrypt"
    return [
        f"Cmnd_Alias RESTART_APICRYPT = {program} {unit} *",
        f"{account} ALL=(root) NOPASSWD: RESTART_APICRYPT",
    ]
