"""medshake-bridge: secure medical mail (Apicrypt, HPRIM) for EHRs, as a Flask host with plugins.

Public surface: :func:`create_app`, :class:`MedshakeBridge`, :data:`hookimpl`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("medshake-bridge")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

from medshake_bridge.app import create_app  # noqa: E402
from medshake_bridge.extension import MedshakeBridge, bridge_state  # noqa: E402
from medshake_bridge.hookspecs import hookimpl  # noqa: E402

__all__ = ["MedshakeBridge", "__version__", "bridge_state", "create_app", "hookimpl"]
