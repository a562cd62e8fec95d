"""Fill empty French msgstr entries of the catalog from a Python dict file (a helper for
translators: ``python scripts/fill_translations.py translations.py``)."""

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOG = Path(__file__).parent.parent / "medshake_bridge/translations/fr/LC_MESSAGES/messages.po"


def main() -> int:
    french = runpy.run_path(sys.argv[1])["FR"]
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    filled = 0
    for message in catalog:
        if message.id and not message.string and message.id in french:
            message.string = french[message.id]
            filled += 1
    with CATALOG.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, no_location=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{filled} filled, {len(missing)} still empty")
    for message_id in missing:
        print(f"  {message_id!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
