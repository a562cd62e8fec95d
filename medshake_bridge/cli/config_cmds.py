"""``medshake-bridge config``: read and write the hierarchical settings."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.settings.spec import render_value
from medshake_bridge.settings.store import SECRET_MASK, EffectiveValue


def clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show a foreseen error as one clear line (and exit 1) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BridgeError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _level(user: int | None, module: str | None) -> str:
    if user is not None and module:
        raise click.UsageError("give --user or --module, not both")
    return "user" if user is not None else "module" if module else "default"


def _source(eff: EffectiveValue) -> str:
    if eff.level == "declared":
        return "declared default"
    if eff.level == "default":
        return "default level"
    return f"{eff.level} level ({eff.scope})"


def _shown(eff: EffectiveValue, reveal: bool) -> str:
    if eff.spec.secret and not reveal:
        return f"{SECRET_MASK} (set)" if eff.is_set else "(not set)"
    return render_value(eff.spec, eff.value)


def _audit(action: str, name: str, level: str, user: int | None, module: str | None,
           detail: str) -> None:
    """Setting changes from the command line are audited like those from the pages."""
    from medshake_bridge.audit import audit, setting_target

    audit(action, target=setting_target(name, level, user_id=user, module=module), actor=None,
          actor_login="cli", detail=detail)


user_option = click.option("--user", "user", type=int, default=None, help="A user id.")
module_option = click.option("--module", "module", default=None, help="A module name.")


@bridge_group.group("config")
def config_group() -> None:
    """Read and write settings (default → module → user)."""


@config_group.command("get")
@click.argument("name")
@user_option
@module_option
@click.option("--reveal", is_flag=True, help="Print a secret's value (admins on the server only).")
@clean_errors
def config_get(name: str, user: int | None, module: str | None, reveal: bool) -> None:
    """Print the effective value of NAME and the level it comes from."""
    from medshake_bridge.settings.choices import unknown_choice

    state = bridge_state()
    eff = state.settings.effective(name, user_id=user, module=module)
    click.echo(f"{name} = {_shown(eff, reveal)}    [{_source(eff)}]")
    problem = unknown_choice(eff.spec, eff.value, state.app)
    if problem:
        click.echo(f"warning: {problem}", err=True)


@config_group.command("set")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--value-stdin", is_flag=True,
              help="Read the value from the first line of standard input (for secrets).")
@user_option
@module_option
@clean_errors
def config_set(name: str, value: str | None, value_stdin: bool, user: int | None,
               module: str | None) -> None:
    """Store VALUE for NAME at the default level, or for a --user or a --module.

    A secret (a password...) is never taken from the command line, where `ps` and the shell
    history would show it: give --value-stdin, or leave VALUE out to be asked for it."""
    store = bridge_state().settings
    level = _level(user, module)
    spec = store.registry.get(name)
    value = _value_to_store(name, value, value_stdin=value_stdin, secret=spec.secret)
    typed = store.set(name, value, level=level, user_id=user, module=module)
    shown = SECRET_MASK if spec.secret else render_value(spec, typed)
    _audit("setting.set", name, level, user, module,
           "secret value changed" if spec.secret else f"value: {render_value(spec, typed)}")
    where = {"default": "default level", "user": f"user {user}", "module": f"module {module}"}
    click.echo(f"{name} = {shown}    [stored at the {where[level]}]")


def _value_to_store(name: str, value: str | None, *, value_stdin: bool, secret: bool) -> str:
    if value is not None and value_stdin:
        raise click.UsageError("give VALUE or --value-stdin, not both")
    if value is not None:
        if secret:
            raise click.UsageError(
                f"{name} is a secret: a value on the command line is visible to other users "
                "in `ps` and stays in the shell history. Leave VALUE out to be asked for it, or "
                f"pipe it: `medshake-bridge config set {name} --value-stdin < file`.")
        return value
    if value_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--value-stdin: standard input is empty")
        return line.rstrip("\r\n")
    return str(click.prompt(f"Value of {name}", hide_input=secret,
                            confirmation_prompt=secret))


@config_group.command("unset")
@click.argument("name")
@user_option
@module_option
@clean_errors
def config_unset(name: str, user: int | None, module: str | None) -> None:
    """Remove the value stored for NAME at one level (the next level then applies)."""
    store = bridge_state().settings
    level = _level(user, module)
    removed = store.unset(name, level=level, user_id=user, module=module)
    if removed:
        _audit("setting.unset", name, level, user, module, "")
    click.echo(f"{name}: {'removed' if removed else 'nothing was stored'} at the {level} level.")


@config_group.command("list")
@user_option
@module_option
@click.option("--category", default=None, help="Only this category (e.g. Apicrypt).")
@clean_errors
def config_list(user: int | None, module: str | None, category: str | None) -> None:
    """Every setting with its effective value and where it comes from."""
    effective = bridge_state().settings.effective_all(user_id=user, module=module)
    for name, eff in effective.items():
        if category and eff.spec.category != category:
            continue
        click.echo(f"{name} = {_shown(eff, False)}    [{_source(eff)}]")
