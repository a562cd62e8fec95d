"""What the connector needs to know, read from the bridge's settings and MedShakeEHR's config.yml.

Read each time the connector is used (settings may change while the bridge runs). The secrets
of config.yml (``sqlVarPassword``, ``fingerprint``) stay in memory only: they are never copied
into the bridge's store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medshake_bridge.api import ConfigurationError, settings
from medshake_medshakeehr import settings as names


@dataclass(frozen=True)
class EhrFiles:
    """The values of MedShakeEHR's config.yml the connector uses."""

    sql_var_password: str = ""
    fingerprint: str = ""
    storage: str = ""


@dataclass(frozen=True)
class ConnectorConfig:
    """The connector's settings for this site."""

    database_url: str = ""
    config_file: str = ""
    storage: str = ""
    base_url: str = ""
    filing: bool = False
    write_back: bool = False
    inbox_user: int = 0
    sso: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.database_url)

    @property
    def writable(self) -> bool:
        """Connections may write only when an admin turned filing or write-back on."""
        return self.filing or self.write_back

    def patient_url(self, people_id: int | str) -> str:
        return f"{self.base_url.rstrip('/')}/patient/{people_id}/" if self.base_url else ""


def connector_config(app: Any = None) -> ConnectorConfig:
    """The connector's settings as stored in the bridge (site level)."""
    values = settings(app).for_user(None, skip_damaged=True)
    return ConnectorConfig(
        database_url=str(values.get(names.DATABASE_URL) or ""),
        config_file=str(values.get(names.CONFIG_FILE) or ""),
        storage=str(values.get(names.STORAGE) or ""),
        base_url=str(values.get(names.BASE_URL) or ""),
        filing=bool(values.get(names.FILING)),
        write_back=bool(values.get(names.WRITE_BACK)),
        inbox_user=int(values.get(names.INBOX_USER) or 0),
        sso=bool(values.get(names.SSO)),
    )


def read_ehr_files(path: str) -> EhrFiles:
    """Read MedShakeEHR's config.yml; raises :class:`ConfigurationError` naming the fix."""
    try:
        import yaml
    except ImportError:
        raise ConfigurationError("PyYAML is not installed",
                                 fix="pip install 'medshake-bridge[medshakeehr]'") from None
    if not path:
        raise ConfigurationError("MedShakeEHR's config.yml is not set",
                                 fix=f"set {names.CONFIG_FILE} to its config/config.yml")
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}",
                                 fix="give the bridge's account read access to config.yml"
                                 ) from None
    except yaml.YAMLError:
        raise ConfigurationError(f"{path} is not YAML",
                                 fix=f"point {names.CONFIG_FILE} at MedShakeEHR's config.yml"
                                 ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a MedShakeEHR config.yml",
                                 fix=f"point {names.CONFIG_FILE} at MedShakeEHR's config.yml")
    return EhrFiles(sql_var_password=str(data.get("sqlVarPassword") or ""),
                    fingerprint=str(data.get("fingerprint") or ""),
                    storage=str(data.get("stockageLocation") or ""))


def storage_folder(config: ConnectorConfig) -> Path:
    """Where documents are stored: the setting, else config.yml's ``stockageLocation``."""
    folder = config.storage or read_ehr_files(config.config_file).storage
    if not folder:
        raise ConfigurationError("MedShakeEHR's storage folder is unknown",
                                 fix=f"set {names.STORAGE} or stockageLocation in config.yml")
    return Path(folder)
