"""The bridge's own patient records, for sites without an EHR behind it (standalone mode).

They are the patient provider of the ``bridge`` source
(:mod:`medshake_bridge.default_plugins.standalone_patients`); an EHR or a portal offers its own
patients through its own provider, and a document goes only to the provider of its patient.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow


class Patient(db.Model):
    __tablename__ = "bridge_patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    first_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    birth_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1), nullable=False, default="")  # F, M or ""
    nir: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    postcode: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    # " last birth first " folded (no accents, lower case), kept up to date on every write:
    # search matches any word of it with LIKE on every database.
    search_key: Mapped[str] = mapped_column(String(600), nullable=False, default="")

    def refresh_search_key(self) -> None:
        from medshake_bridge.hprim import fold

        key = " ".join(part for part in (fold(self.last_name or ""), fold(self.birth_name or ""),
                                         fold(self.first_name or "")) if part)
        self.search_key = f" {key} "

    @property
    def display_name(self) -> str:
        born = f" ({self.birth_date:%d/%m/%Y})" if self.birth_date else ""
        return f"{self.last_name} {self.first_name}".strip() + born


class FiledDocument(db.Model):
    """An inbox document filed into a standalone patient record (once: unique document)."""

    __tablename__ = "bridge_filed_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("bridge_patients.id"), nullable=False,
                                            index=True)
    inbox_document_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_inbox_documents.id", name="fk_bridge_filed_documents_document"),
        nullable=False, unique=True)
    filed_by_user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                               default=utcnow)
    title: Mapped[str] = mapped_column(Text, nullable=False, default="")
    folder: Mapped[str] = mapped_column(String(1000), nullable=False, default="")


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _keep_search_key(_mapper: object, _connection: object, patient: Patient) -> None:
    patient.refresh_search_key()
