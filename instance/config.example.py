# Example instance configuration for medshake-bridge. Copy it to <instance>/config.py (the
# instance folder is MEDSHAKE_BRIDGE_INSTANCE, private: mode 0700) and adapt it. Environment
# variables MEDSHAKE_BRIDGE_* override these values. Never commit the real file: it holds keys.

# Database: SQLite in the instance folder when empty.
# MEDSHAKE_BRIDGE_DATABASE_URL = "postgresql+psycopg://bridge@127.0.0.1:5432/bridge"
# MEDSHAKE_BRIDGE_DATABASE_URL = "mysql+pymysql://bridge@127.0.0.1:3306/bridge?charset=utf8mb4"

# Keys for secrets at rest, newest first (`medshake-bridge generate-secret-key`). Without this,
# `init-db` writes <instance>/secret_keys (mode 0600) on first run.
# MEDSHAKE_BRIDGE_SECRET_KEYS = ["<new key>", "<previous key>"]

# Private data (inbox, archives, working folders): never under a web-served folder.
# MEDSHAKE_BRIDGE_DATA_DIR = "/srv/medshake-bridge/data"

# Scheduler: "embedded" (in `medshake-bridge run`), "external" (`medshake-bridge scheduler`,
# for gunicorn or several web processes), or "off".
# MEDSHAKE_BRIDGE_SCHEDULER = "external"

# Several hosts (docs/scale-out.md): collection on a Celery queue consumed by
# `medshake-bridge worker` processes; needs PostgreSQL (or MariaDB), Redis and a shared data
# folder. "inline" (the default) is one process.
# MEDSHAKE_BRIDGE_EXECUTOR = "celery"
# MEDSHAKE_BRIDGE_CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
# MEDSHAKE_BRIDGE_HOST = "bridge-1"

# A plugin that fails to load stops the start instead of being recorded.
# MEDSHAKE_BRIDGE_STRICT_PLUGINS = True

# Failed-login counter shared by several processes.
# MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379"

# Behind a TLS reverse proxy: mark the session cookie Secure.
# SESSION_COOKIE_SECURE = True
