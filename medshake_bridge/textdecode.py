"""Turn received bytes into text, and outgoing text into ISO-8859-1 bytes.

Apicrypt mail arrives in whatever encoding the sender's software used: CP1252 / ISO-8859-1 for
most v1 senders, UTF-8 for v2, UTF-16 with a byte-order mark from some Windows tools, MacRoman
from old Mac software; line endings are CRLF, LF, lone CR, and even the swapped ``\\n\\r``.
HPRIM is positional (one field per line), so a wrong guess or a stray ``\\r`` moves every field:
decoding must be explicit and predictable, and it must never raise, because a message we cannot
decode must still reach the inbox (the raw bytes are kept by the caller).

Order (DOMAIN §7): BOM -> strict UTF-8 -> CP1252, switching to MacRoman only when the text reads
as French in MacRoman and not in CP1252.

Sending through Apicrypt v1 needs ISO-8859-1: :func:`encode_outgoing_latin1` transliterates what
Latin-1 cannot hold and reports every replacement so the user is told what changed.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

__all__ = [
    "DecodedText",
    "Replacement",
    "decode_bytes",
    "encode_outgoing_latin1",
    "normalise_line_endings",
]

# One left-to-right pass handles every ending, including files that mix them: at a "\r" only
# CRLF or CR can match, at a "\n" only the swapped LFCR or LF, so pairs are never split wrongly.
_LINE_BREAK = re.compile(r"\r\n|\n\r|\r|\n")
_BREAK_NAMES = {"\r\n": "CRLF", "\n\r": "LFCR", "\r": "CR"}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _cp1252_table() -> str:
    """CP1252 for the 256 byte values; its five undefined bytes map to the same C1 code point.

    That is what browsers do (WHATWG "windows-1252") and it makes the decoding total and
    lossless: no byte ever becomes U+FFFD or an exception.
    """
    chars = []
    for value in range(256):
        try:
            chars.append(bytes([value]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(value))
    return "".join(chars)


# Translation maps applied to a Latin-1 decoding (which maps byte N to code point N).
_CP1252_MAP = {index: char for index, char in enumerate(_cp1252_table()) if ord(char) != index}
_MACROMAN_MAP = {
    index: char
    for index, char in enumerate(bytes(range(256)).decode("mac_roman"))
    if ord(char) != index
}

_FRENCH_LOWER = frozenset("àâäçéèêëîïôöùûüÿœæ")
_FRENCH_UPPER = frozenset("ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ")


@dataclass(frozen=True)
class DecodedText:
    """Text decoded from received bytes, with what was done to get it.

    ``encoding`` is a Python codec name (``utf-8``, ``utf-16-le``, ``utf-16-be``, ``cp1252``,
    ``mac_roman``); for ``cp1252`` the five bytes CP1252 leaves undefined were kept as the C1
    control characters of the same value. ``bom`` says a byte-order mark was removed;
    ``line_endings`` names the endings rewritten to ``\\n`` (``CRLF``, ``LFCR``, ``CR``);
    ``replaced`` counts undecodable sequences replaced by U+FFFD (only possible after a UTF-16
    BOM, e.g. an odd byte count); ``nfc`` says decomposed accents were composed.
    """

    text: str
    encoding: str
    bom: bool = False
    line_endings: tuple[str, ...] = ()
    replaced: int = 0
    nfc: bool = False

    @property
    def normalised(self) -> tuple[str, ...]:
        """Everything that changed, as short labels, for logs and the message view."""
        labels: list[str] = []
        if self.bom:
            labels.append("BOM")
        labels.extend(self.line_endings)
        if self.replaced:
            labels.append(f"{self.replaced} replaced")
        if self.nfc:
            labels.append("NFC")
        return tuple(labels)


@dataclass(frozen=True)
class Replacement:
    """One character Latin-1 could not hold, what it became, and how many times it occurred."""

    character: str
    replacement: str
    count: int


def normalise_line_endings(text: str) -> tuple[str, tuple[str, ...]]:
    """Rewrite CRLF, swapped LFCR and lone CR to ``\\n``; return the text and the kinds seen.

    Kinds come back in a fixed order (CRLF, LFCR, CR) so results compare equal across runs.

    Most texts are answered without the expression: a collected message's text is
    normalised up to four times (decoding, splitting, each document's parse), and calling
    the replacement function once per line was 8 % of a pass-through message's processing
    outside the database (issue 18, fifth pass, cProfile). Without ``\n\r`` in the text,
    every ``\r`` starts a match of its own (``\r\n`` or a lone ``\r``), so two
    replacements give the same text.
    """
    if "\r" not in text:
        return text, ()
    if "\n\r" not in text:
        crlf = text.count("\r\n")
        kinds = (("CRLF",) if crlf else ()) + (("CR",) if text.count("\r") > crlf else ())
        return text.replace("\r\n", "\n").replace("\r", "\n"), kinds
    seen: set[str] = set()

    def _replace(match: re.Match[str]) -> str:
        name = _BREAK_NAMES.get(match.group(0))
        if name:
            seen.add(name)
        return "\n"

    result = _LINE_BREAK.sub(_replace, text)
    return result, tuple(name for name in ("CRLF", "LFCR", "CR") if name in seen)


def _french_score(text: str) -> int:
    """How much ``text`` reads like French: accented letters where words have them.

    Points for French accented letters; penalties for what a wrong 8-bit guess produces: C1
    control characters, foreign letters or modifier symbols inside words, capital accented
    letters in the middle of a lower-case word ("RÈsultat"). Punctuation is neutral, so curly
    apostrophes in CP1252 text are not held against it.
    """
    score = 0
    last = len(text) - 1
    for index, char in enumerate(text):
        if char < "\x80":
            continue
        before = text[index - 1] if index > 0 else " "
        after = text[index + 1] if index < last else " "
        category = unicodedata.category(char)
        if char in _FRENCH_LOWER:
            score += 2 if (before.isalpha() or after.isalpha()) else 1
        elif char in _FRENCH_UPPER:
            score += -2 if before.islower() or (before.isalpha() and after.islower()) else 1
        elif category == "Cc":
            score -= 3
        elif (category.startswith("L") or category == "Sk") and (
            before.isalpha() or after.isalpha()
        ):
            score -= 2
    return score


def _looks_like_utf16_le(data: bytes) -> bool:
    """UTF-16 LE without a BOM: text in Latin script has a NUL in nearly every odd byte."""
    if len(data) < 4 or len(data) % 2:
        return False
    odd_nuls = data[1::2].count(0)
    even_nuls = data[0::2].count(0)
    pairs = len(data) // 2
    return odd_nuls >= 0.9 * pairs and even_nuls <= 0.1 * pairs


def _decode_8bit(data: bytes) -> tuple[str, str]:
    """CP1252 unless the bytes read clearly better as MacRoman-encoded French.

    Ties go to CP1252, by far the more common of the two in Apicrypt mail.
    """
    latin = data.decode("latin-1")
    as_cp1252 = latin.translate(_CP1252_MAP)
    if latin.isascii():
        return as_cp1252, "cp1252"
    as_macroman = latin.translate(_MACROMAN_MAP)
    if _french_score(as_macroman) > _french_score(as_cp1252):
        return as_macroman, "mac_roman"
    return as_cp1252, "cp1252"


def decode_bytes(data: bytes) -> DecodedText:
    """Decode received bytes to text with ``\\n`` line endings; never raises.

    BOM first (UTF-8, UTF-16 LE/BE), then UTF-16 LE without BOM when the NUL pattern is
    unmistakable, then strict UTF-8, then CP1252 or MacRoman (see :func:`_decode_8bit`).
    Decomposed accents (as macOS writes UTF-8) are composed (NFC) so that names compare equal.
    """
    bom = False
    replaced = 0
    text: str | None = None
    encoding = ""
    for mark, name in _BOMS:
        if data.startswith(mark):
            bom = True
            encoding = name
            body = data[len(mark) :]
            try:
                text = body.decode(name)
            except UnicodeDecodeError:
                text = body.decode(name, errors="replace")
                genuine = body.decode(name, errors="ignore").count("\ufffd")
                replaced = max(1, text.count("\ufffd") - genuine)
            break
    if text is None and _looks_like_utf16_le(data):
        try:
            text, encoding = data.decode("utf-16-le"), "utf-16-le"
        except UnicodeDecodeError:
            text = None
    if text is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = _decode_8bit(data)
    text, endings = normalise_line_endings(text)
    composed = unicodedata.normalize("NFC", text)
    return DecodedText(
        text=composed,
        encoding=encoding,
        bom=bom,
        line_endings=endings,
        replaced=replaced,
        nfc=composed != text,
    )


# What Latin-1 cannot hold, in the spelling a French reader expects. Checked before the NFKD
# fallback because NFKD has no answer for these (or a worse one, e.g. "…" -> "...": same, but
# "’" has no decomposition at all).
_TRANSLITERATIONS: dict[str, str] = {
    "œ": "oe",
    "Œ": "OE",
    "€": "EUR",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "‹": "<",
    "›": ">",
    "…": "...",
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "−": "-",
    "•": "*",
    "·": ".",
    "⁄": "/",
    "™": "TM",
    "‰": "o/oo",
    "Ÿ": "Y",
    "\u2028": " ",
    "\u2029": " ",
    "\u200b": "",
    "\ufeff": "",
}


def _latin1_ok(char: str) -> bool:
    return ord(char) < 256


def _transliterate(char: str) -> str:
    """Latin-1 spelling of one character: table, then NFKD without accents, then ``?``."""
    if char in _TRANSLITERATIONS:
        return _TRANSLITERATIONS[char]
    pieces: list[str] = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(part):
            continue
        if _latin1_ok(part):
            pieces.append(part)
        elif part in _TRANSLITERATIONS:
            pieces.append(_TRANSLITERATIONS[part])
        else:
            pieces.append("?")
    result = "".join(pieces)
    if not result.strip("?"):
        return "?"
    return result


def encode_outgoing_latin1(text: str) -> tuple[bytes, list[Replacement]]:
    """Encode ``text`` as ISO-8859-1 for Apicrypt v1, transliterating what does not fit.

    Decomposed accents are composed first (they fit once composed and are not reported). Each
    replaced character is reported once with its count, in order of first appearance, so the
    sending page can say e.g. "œ was sent as oe (3 times)". Never raises.
    """
    composed = unicodedata.normalize("NFC", text)
    out: list[str] = []
    counts: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for char in composed:
        if _latin1_ok(char):
            out.append(char)
            continue
        if char not in spelled:
            spelled[char] = _transliterate(char)
        counts[char] += 1
        out.append(spelled[char])
    replacements = [Replacement(char, spelled[char], counts[char]) for char in spelled]
    return "".join(out).encode("latin-1"), replacements
