"""The inbox's search text: what the search box looks in, folded once when a document is stored.

Each word typed in the inbox's search box must be found in the patient's last or first name,
the birth date, the sender's name, the subject or the sender's address. Looking in five
columns of two tables for each word was a full scan of a user's inbox on every search (0.6 s
at 100,000 documents on PostgreSQL); one folded column (lower case, no accents) is one
``LIKE`` per word, which PostgreSQL answers from a trigram index (migration 0019) and SQLite
and MariaDB scan quickly. Folding accents also makes "helene" find "Hélène".
"""

from __future__ import annotations

import datetime as dt
import unicodedata

LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})  # "Œuf" is typed "oeuf"
MAX_LENGTH = 2000  # the column is TEXT; a subject is at most 1,000 characters in practice


def fold(text: str) -> str:
    """``"Hélène  DUPONT-Étienne"`` → ``"helene dupont-etienne"``: lower case, accents and
    repeated spaces removed (the same folding for the stored text and the searched words)."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().translate(LIGATURES).split())


def search_text(*, last_name: str = "", first_name: str = "", birth_date: dt.date | None = None,
                sender_name: str = "", subject: str = "", from_address: str = "") -> str:
    """The folded text of one document, as stored in ``bridge_inbox_documents.search_text``."""
    parts = [last_name, first_name, sender_name, subject, from_address]
    if birth_date is not None:
        parts += [birth_date.strftime("%d/%m/%Y"), birth_date.isoformat()]
    return fold(" ".join(part for part in parts if part))[:MAX_LENGTH]
