"""Alembic environment: runs on the connection handed over by medshake_bridge.migrate."""

from alembic import context

import medshake_bridge.models  # noqa: F401,E402 - registers the tables on the metadata
from medshake_bridge.db import Base
from medshake_bridge.migrate import VERSION_TABLE, for_dialect

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=for_dialect(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
