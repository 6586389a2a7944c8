"""Byte counts as people write them: `50MiB`, `1.5GiB`, `500MB`, `1048576`."""

from __future__ import annotations

import re

UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024 ** 2, "mib": 1024 ** 2, "mb": 1000 ** 2,
         "g": 1024 ** 3, "gib": 1024 ** 3, "gb": 1000 ** 3, "t": 1024 ** 4, "tib": 1024 ** 4, "tb": 1000 ** 4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*\Z")


def parse_size(text: str) -> int:
    """Bytes; binary units (KiB, MiB, GiB, TiB, and k, m, g, t) and decimal ones (KB, MB, GB, TB)."""
    match = _SIZE.match(text)
    unit = match and UNITS.get(match[2].lower())
    if not unit:
        raise ValueError(f"invalid size {text[:40]!r} (use e.g. 50MiB, 1.5GiB, 500MB or a number of bytes)")
    return int(float(match[1]) * unit)


def human_size(n: float) -> str:
    """`50.0 MiB`, `512 B`."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
