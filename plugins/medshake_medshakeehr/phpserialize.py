"""PHP's ``serialize()`` for the values MedShakeEHR's inbox stores (arrays of strings/ints).

String lengths are in bytes of UTF-8, as PHP counts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def php_serialize(value: Any) -> str:
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if value is None:
        return "N;"
    if isinstance(value, Mapping):
        items = "".join(php_serialize(key) + php_serialize(item) for key, item in value.items())
        return f"a:{len(value)}:{{{items}}}"
    if isinstance(value, list | tuple):
        return php_serialize(dict(enumerate(value)))
    text = str(value)
    return f's:{len(text.encode("utf-8"))}:"{text}";'
