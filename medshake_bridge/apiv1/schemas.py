"""The API's request and response bodies as pydantic models.

Their JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) are the components of the served
OpenAPI description; the same models validate what comes in and shape what goes out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from medshake_bridge.hprim.header import published_fields

DocumentState = Literal["new", "filed", "removed"]
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Health(Model):
    status: Literal["up", "down"]


class Person(Model):
    id: int
    login: str
    display_name: str


class Me(Model):
    id: int
    login: str
    display_name: str
    role: str
    authenticated_by: Literal["token", "session"]
    scopes: list[str]
    mail_of: list[Person] = Field(description="Users whose mail this caller may read.")


class PatientIdentity(Model):
    last_name: str
    first_name: str
    birth_date: dt.date | None


class Filing(Model):
    patient: str = Field(description="The patient reference, source:id.")
    name: str = Field(description="The patient's name as the source gave it when filing.")
    url: str = Field(description="The record in the source's own screens, if it has one.")
    at: dt.datetime | None


class Reader(Model):
    person: Person
    first_read_at: dt.datetime


class InboxItem(Model):
    id: int
    state: DocumentState
    owner: Person
    delegated: bool = Field(description="True when the document belongs to another user.")
    received_at: dt.datetime
    read: bool = Field(description="The caller has opened it (each person has their own read "
                                   "state, as on the pages: a delegate's reading leaves it "
                                   "unread for the owner).")
    read_at: dt.datetime | None = Field(description="When the caller first opened it.")
    seen_by: list[Reader] = Field(description="The other people who opened it, first reader "
                                              "first (the pages' \"vu par …\").")
    patient: PatientIdentity | None
    exam_date: dt.date | None
    sender: str
    subject: str
    abnormal: bool = Field(description="Some lab result is flagged abnormal.")
    unencrypted: bool = Field(description="Not encrypted with Apicrypt: anyone could have "
                                          "written or changed it on the way (the pages say "
                                          "\"non chiffré\"). Check with the sender.")
    external_sender: bool = Field(description="The sender's address is outside the "
                                              "configured Apicrypt domains (the pages say "
                                              "\"expéditeur externe\").")
    signature_invalid: bool = Field(description="Some decrypted part (the text or an "
                                                "attachment) has an invalid signature: its "
                                                "content may have been changed (the pages "
                                                "show a red banner). Check with the sender.")
    attachment_count: int
    filed: Filing | None
    links: dict[str, str]


class InboxPage(Model):
    items: list[InboxItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at "
                                                "the end.")


class InboxQuery(Model):
    state: DocumentState = "new"
    patient: str | None = Field(None, max_length=200,
                                description="Part of the patient's name, or a filed patient "
                                            "reference.")
    sender: str | None = Field(None, max_length=200, description="Part of the sender's name "
                                                                 "or address.")
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    text: str | None = Field(None, max_length=200, description="Text in the subject or body.")
    owner: int | None = Field(None, ge=0, le=MAX_ID,
                              description="Only the mail of this user (delegates).")
    unread: bool | None = None
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,20}-[0-9]{1,18}$",
                                description="next_cursor of the previous page.")
    limit: int = Field(50, ge=1, le=200)


class OwnerCount(Model):
    owner: Person
    unread: int = Field(description="New documents of this owner that the caller has not "
                                    "opened (the caller's badge).")
    unread_by_owner: int = Field(description="New documents the owner has not opened "
                                             "themselves (the owner's badge; what \"vu par\" "
                                             "tells a delegate).")


class UnreadCount(Model):
    total: int
    per_owner: list[OwnerCount]


class LabResult(Model):
    code: str
    label: str
    kind: str = Field(description="N numeric, A alphanumeric, C comment (as sent).")
    value: str
    numeric_value: float | None
    unit: str
    normal_low: str
    normal_high: str
    flag: str = Field(description="L, H, LL, HH, N or empty.")
    abnormal: bool
    status: str = Field(description="F validated, R not validated, C corrected.")


def _header_model() -> type[Model]:
    """The HPRIM header as published: the fields :mod:`medshake_bridge.hprim.header` declares
    (one list, there), text fields empty and dates null when the sender left them out."""
    fields: dict[str, Any] = {
        name: ((dt.date | None, None) if kind is dt.date else (str, ""))
        for name, kind in published_fields().items()}
    model = create_model("HprimHeader", __base__=Model, __module__=__name__, **fields)
    model.__doc__ = ("The HPRIM header's fields as the sender wrote them (dates parsed; the "
                     "*_raw fields keep the text).")
    return model


HprimHeader = _header_model()


class AttachmentInfo(Model):
    index: int
    name: str
    size: int
    content_type: str
    signature: str = Field(description="valid, invalid, unsigned, or empty when unknown.")
    link: str


class Document(InboxItem):
    header: HprimHeader | None
    results: list[LabResult]
    body: str
    signature: str
    attachments: list[AttachmentInfo]


class FileRequest(Model):
    patient: str = Field(min_length=3, max_length=200, description="source:id")


class AttachmentIn(Model):
    name: str = Field(min_length=1, max_length=150)
    content_base64: str | None = Field(None, description="The file, base64-encoded.")
    document: int | None = Field(None, ge=0, le=MAX_ID,
                                 description="Or: a received document's id ...")
    index: int | None = Field(None, ge=0, le=1000, description="... and the attachment's number.")


class MessageIn(Model):
    recipients: list[str] = Field(min_length=1, max_length=20)
    patient: str = Field(min_length=1, max_length=200, description="source:id")
    subject: str = Field(min_length=1, max_length=200,
                         description="Travels unencrypted: never the patient's identity.")
    body: str = Field("", max_length=200_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    document: int | None = Field(None, ge=0, le=MAX_ID,
                                 description="The received document this answers.")
    send_as: int | None = Field(None, ge=0, le=MAX_ID,
                                description="The id of the user whose mailbox sends it: a "
                                            "delegate sends in a practitioner's name, chosen "
                                            "explicitly as on the compose page. May be left "
                                            "out only by someone whose one mailbox is their "
                                            "own.")


class SentItem(Model):
    id: int
    state: Literal["queued", "sending", "sent", "failed"]
    sender: Person | None = Field(description="The user whose mailbox sent it.")
    acted_by: Person | None = Field(None, description="Who sent it on the sender's behalf (a "
                                                      "delegate); null when the sender did.")
    recipients: list[str]
    patient: str
    patient_label: str
    subject: str
    attachments: list[str]
    message_id: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    error: str
    replayed: bool = Field(False, description="True when this Idempotency-Key had already "
                                              "sent the message.")


class SentPage(Model):
    items: list[SentItem]
    next_cursor: str | None


class PageQuery(Model):
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,20}-[0-9]{1,18}$",
                                description="next_cursor of the previous page.")
    limit: int = Field(50, ge=1, le=200)


class Problem(Model):
    type: str
    title: str
    status: int
    detail: str
    fix: str
    errors: list[dict[str, str]] | None = None


class PatientOut(Model):
    ref: str = Field(description="source:id")
    last_name: str
    first_name: str
    birth_name: str
    birth_date: dt.date | None
    sex: str
    postcode: str
    city: str
    url: str


class PatientList(Model):
    items: list[PatientOut]


class PatientQuery(Model):
    q: str = Field(min_length=1, max_length=200,
                   description="Words of the names, or a birth date dd/mm/yyyy.")
    limit: int = Field(20, ge=1, le=100)


class LabPoint(Model):
    document: int
    date: dt.date | None = Field(description="The exam date, else the day it was received.")
    code: str
    label: str
    value: str
    numeric_value: float | None
    unit: str
    normal_low: str
    normal_high: str
    flag: str
    abnormal: bool


class LabHistory(Model):
    patient: str
    code: str
    points: list[LabPoint]


class LabQuery(Model):
    code: str = Field(min_length=1, max_length=40, description="The analyte's code, e.g. HB.")
