"""Numbers from URLs: ids and page numbers that no database can hold answer 404, never 500.

Flask's ``int`` converter accepts any number of digits, and ``?page=`` is free text; a value
past the database's integer range (``/inbox/99999999999999999999``) made the driver raise an
overflow, shown as a 500. :func:`check_route_ids` (called by the access guard for every bridge
page) refuses such route values; views read numeric query arguments through :func:`int_arg`
and :func:`id_arg`.
"""

from __future__ import annotations

from flask import abort, request

MAX_ID = 2**31 - 1  # the smallest integer column of the three databases
MAX_PAGE = 1_000_000  # far past any real list; keeps OFFSET small for every database


def check_route_ids() -> None:
    """404 when an integer value of this request's route is out of every id's range."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_ID:
            abort(404)


def int_arg(name: str, default: int, *, maximum: int = MAX_PAGE) -> int:
    """A positive whole number from the query string (``default`` when absent, not a number or
    below 1; 404 above ``maximum``: there is nothing to show that far)."""
    raw = request.args.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit():
        return default
    if len(raw) > len(str(maximum)) or int(raw) > maximum:
        abort(404)
    value = int(raw)
    return value if value >= 1 else default


def id_arg(raw: str) -> int | None:
    """An id typed in a query or form value: ``None`` unless it is digits within range."""
    raw = (raw or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None
