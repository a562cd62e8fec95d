"""Each analyte of one patient over time: the points of a chart drawn on the server.

The chart is an SVG written by the template from the coordinates computed here: no script
(the strict CSP stays), it prints, and a table with the same values sits under it for
anyone who cannot see the drawing. The patient is the identity the documents carry, among the
documents the reader may see (as for the previous values).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.db import db
from medshake_bridge.hprim.lab import parse_number
from medshake_bridge.inbox.results import (
    HISTORY_SCAN,
    analyte_key,
    direction_of,
    exam_date,
    same_patient_documents,
)
from medshake_bridge.models import User
from medshake_bridge.models.mail import FILED, InboxDocument

WIDTH, HEIGHT, PAD_X, PAD_Y = 560, 170, 48, 22


@dataclass(frozen=True)
class Point:
    when: dt.date | None
    value: str
    number: float | None
    unit: str
    direction: str
    critical: bool
    document_id: int
    x: float = 0.0
    y: float = 0.0


@dataclass
class Series:
    """One analyte's values, oldest first, with the chart's geometry."""

    key: str
    label: str
    unit: str
    low: float | None
    high: float | None
    points: list[Point] = field(default_factory=list)
    band: tuple[float, float] | None = None  # y of the normal range (top, bottom)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)

    @property
    def plotted(self) -> list[Point]:
        return [point for point in self.points if point.number is not None]

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.plotted)

    @property
    def chartable(self) -> bool:
        return len(self.plotted) >= 2


def _layout(series: Series) -> None:
    numbers = [point.number for point in series.plotted]
    if not numbers:
        return
    bounds = [*numbers, *(b for b in (series.low, series.high) if b is not None)]
    low, high = min(bounds), max(bounds)
    if high == low:
        high, low = high + 1, low - 1
    margin = (high - low) * 0.1
    low, high = low - margin, high + margin
    dates = [point.when.toordinal() for point in series.plotted if point.when] or [0]
    first, last = min(dates), max(dates)
    span = max(last - first, 1)

    def y_of(value: float) -> float:
        return PAD_Y + (HEIGHT - 2 * PAD_Y) * (1 - (value - low) / (high - low))

    placed = []
    for index, point in enumerate(series.points):
        if point.number is None:
            placed.append(point)
            continue
        ordinal = point.when.toordinal() if point.when else first + index
        x = PAD_X + (WIDTH - 2 * PAD_X) * ((ordinal - first) / span if last > first else 0.5)
        placed.append(Point(**{**point.__dict__, "x": x, "y": y_of(point.number)}))
    series.points = placed
    if series.low is not None or series.high is not None:
        top = y_of(series.high) if series.high is not None else PAD_Y
        bottom = y_of(series.low) if series.low is not None else HEIGHT - PAD_Y
        series.band = (top, bottom)
    series.y_ticks = [(y_of(value), f"{value:g}".replace(".", ","))
                      for value in (series.low, series.high) if value is not None]


def analyte_history(user: User, document: InboxDocument) -> list[Series]:
    """Every analyte found in this patient's documents, each with its values over time."""
    return series_of([document, *same_patient_documents(user, document)])


def patient_history(user: User, patient_ref: str) -> list[Series]:
    """Every analyte in the documents filed into ``patient_ref`` that ``user`` may read.

    The patient page draws these: the record is what was filed into it (unlike the inbox's
    history, which follows the identity the documents carry before they are filed).
    """
    owners = sorted(readable_mail_owner_ids(user))
    documents = db.session.scalars(select(InboxDocument).where(
        InboxDocument.owner_user_id.in_(owners or [-1]), InboxDocument.state == FILED,
        InboxDocument.filed_patient_ref == patient_ref)
        .order_by(InboxDocument.created_at.desc(), InboxDocument.id.desc()).limit(HISTORY_SCAN))
    return series_of(list(documents))


def series_of(documents: list[InboxDocument]) -> list[Series]:
    """The analytes of ``documents``, oldest exam first, one copy of each document only."""
    seen_copies: set[tuple[int, int]] = set()
    found: dict[str, Series] = {}
    rows = []
    for item in documents:
        copy = (item.message_id, item.position)
        if copy in seen_copies:
            continue  # the same document in two owners' inboxes
        seen_copies.add(copy)
        rows.append((exam_date(item) or dt.date.min, item.created_at, item))
    rows.sort(key=lambda row: (row[0], row[1]))
    for when, _created, item in rows:
        for result in json.loads(item.results_json or "[]"):
            value = str(result.get("value") or "").strip()
            if not value:
                continue
            key = analyte_key(result)
            series = found.get(key)
            if series is None:
                series = found[key] = Series(
                    key, str(result.get("label") or ""), str(result.get("unit") or ""),
                    parse_number(str(result.get("normal_low") or "")),
                    parse_number(str(result.get("normal_high") or "")))
            flag = str(result.get("flag") or "").upper()
            series.points.append(Point(when if when != dt.date.min else None, value,
                                       parse_number(value), str(result.get("unit") or ""),
                                       direction_of(result), flag in ("HH", "LL"), item.id))
    for series in found.values():
        _layout(series)
    return list(found.values())
