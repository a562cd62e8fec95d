"""Tables of the host. Importing this package registers every model on the shared metadata."""

from medshake_bridge.models.settings import SettingValue
from medshake_bridge.models.users import User

__all__ = ["SettingValue", "User"]
