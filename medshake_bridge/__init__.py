"""medshake-bridge: secure medical mail (Apicrypt, HPRIM) for EHRs, as a Flask host with plugins.

Public surface: :func:`create_app`, :class:`MedshakeBridge`, :data:`hookimpl`.

The names are imported on first use (PEP 562), not when the package is: a module of the
package (``medshake_bridge.cli``, ``lazy_cli``, a sandbox program) can be imported without
Flask, SQLAlchemy and the models, so the command line can order its start-up (issue 18:
``medshake-bridge fetch`` pauses the cyclic garbage collector while it imports and builds its
app, see :mod:`medshake_bridge.startup`). ``__version__`` reads the installed distribution's
metadata only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medshake_bridge.app import create_app
    from medshake_bridge.extension import MedshakeBridge, bridge_state
    from medshake_bridge.hookspecs import hookimpl

__all__ = ["MedshakeBridge", "__version__", "bridge_state", "create_app", "hookimpl"]

_PUBLIC = {"create_app": "medshake_bridge.app", "MedshakeBridge": "medshake_bridge.extension",
           "bridge_state": "medshake_bridge.extension", "hookimpl": "medshake_bridge.hookspecs"}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use and then kept as module attributes."""
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medshake-bridge")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+source"
