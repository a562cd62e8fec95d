"""Filing recorded as a patient reference with the patient's name and link; folded names

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-01

A document filed before this revision could only have gone into the standalone store, so its
bare ``filed_patient_id`` becomes ``bridge:<id>``. ``bridge_patients.search_key`` holds the
folded last, birth and first names so that search ignores accents and case on every database.
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

from medshake_bridge.migrations.in_place import drop_column, rename_column

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})


def _fold(text: str) -> str:
    # a frozen copy of medshake_bridge.hprim.normalise.fold: a migration must not change later
    bare = "".join(c for c in unicodedata.normalize("NFKD", text or "")
                   if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", bare.casefold().translate(_LIGATURES)).strip()


def _rename(table: str, old: str, new: str) -> None:
    rename_column(table, old, new, existing_type=sa.String(length=100), existing_nullable=False)


_DOCUMENT_COLUMNS = (
    ("filed_patient_name", lambda: sa.Column("filed_patient_name", sa.String(length=300),
                                             nullable=False, server_default="")),
    ("filed_patient_birth_date", lambda: sa.Column("filed_patient_birth_date", sa.Date(),
                                                   nullable=True)),
    ("filed_patient_sex", lambda: sa.Column("filed_patient_sex", sa.String(length=1),
                                            nullable=False, server_default="")),
    ("filed_url", lambda: sa.Column("filed_url", sa.String(length=1000), nullable=False,
                                    server_default="")),
    ("filing_claim", lambda: sa.Column("filing_claim", sa.String(length=64), nullable=False,
                                       server_default="")),
    ("filing_claimed_at", lambda: sa.Column("filing_claimed_at", sa.DateTime(timezone=True),
                                            nullable=True)),
)
_PATIENT_COLUMNS = (
    ("search_key", lambda: sa.Column("search_key", sa.String(length=600), nullable=False,
                                     server_default="")),
    ("sex", lambda: sa.Column("sex", sa.String(length=1), nullable=False, server_default="")),
)


def upgrade() -> None:
    _rename("bridge_inbox_documents", "filed_patient_id", "filed_patient_ref")
    for _name, column in _DOCUMENT_COLUMNS:
        op.add_column("bridge_inbox_documents", column())
    for _name, column in _PATIENT_COLUMNS:
        op.add_column("bridge_patients", column())
    connection = op.get_bind()
    documents = sa.table("bridge_inbox_documents", sa.column("id", sa.Integer),
                         sa.column("filed_patient_ref", sa.String),
                         sa.column("filed_patient_name", sa.String),
                         sa.column("filed_patient_birth_date", sa.Date))
    patients = sa.table("bridge_patients", sa.column("id", sa.Integer),
                        sa.column("last_name", sa.String), sa.column("first_name", sa.String),
                        sa.column("birth_name", sa.String), sa.column("birth_date", sa.Date),
                        sa.column("search_key", sa.String))
    for row in connection.execute(sa.select(patients)).mappings().all():
        key = " ".join(part for part in (_fold(row["last_name"]), _fold(row["birth_name"]),
                                         _fold(row["first_name"])) if part)
        connection.execute(patients.update().where(patients.c.id == row["id"])
                           .values(search_key=f" {key} "))
    for row in connection.execute(sa.select(documents.c.id, documents.c.filed_patient_ref)
                                  .where(documents.c.filed_patient_ref != "")).all():
        if not row.filed_patient_ref.isdigit():
            continue
        patient = connection.execute(sa.select(patients).where(
            patients.c.id == int(row.filed_patient_ref))).mappings().first()
        values = {"filed_patient_ref": f"bridge:{row.filed_patient_ref}"}
        if patient is not None:
            values["filed_patient_name"] = " ".join(
                p for p in (patient["last_name"], patient["first_name"]) if p)[:300]
            values["filed_patient_birth_date"] = patient["birth_date"]
        connection.execute(documents.update().where(documents.c.id == row.id).values(**values))
    sent = sa.table("bridge_sent_messages", sa.column("id", sa.Integer),
                    sa.column("patient_id", sa.String))
    for row in connection.execute(sa.select(sent.c.id, sent.c.patient_id)
                                  .where(sent.c.patient_id != "")).all():
        if row.patient_id.isdigit():
            connection.execute(sent.update().where(sent.c.id == row.id)
                               .values(patient_id=f"bridge:{row.patient_id}"))


def downgrade() -> None:
    connection = op.get_bind()
    sent = sa.table("bridge_sent_messages", sa.column("id", sa.Integer),
                    sa.column("patient_id", sa.String))
    for row in connection.execute(sa.select(sent.c.id, sent.c.patient_id)
                                  .where(sent.c.patient_id.like("bridge:%"))).all():
        connection.execute(sent.update().where(sent.c.id == row.id)
                           .values(patient_id=row.patient_id.partition(":")[2]))
    documents = sa.table("bridge_inbox_documents", sa.column("id", sa.Integer),
                         sa.column("filed_patient_ref", sa.String))
    for row in connection.execute(sa.select(documents.c.id, documents.c.filed_patient_ref)
                                  .where(documents.c.filed_patient_ref != "")).all():
        source, _, ident = row.filed_patient_ref.partition(":")
        connection.execute(documents.update().where(documents.c.id == row.id).values(
            filed_patient_ref=ident if source == "bridge" else row.filed_patient_ref))
    for name, _column in reversed(_PATIENT_COLUMNS):
        drop_column("bridge_patients", name)
    for name, _column in reversed(_DOCUMENT_COLUMNS):
        drop_column("bridge_inbox_documents", name)
    _rename("bridge_inbox_documents", "filed_patient_ref", "filed_patient_id")
