"""Durations as people write them: a number and a unit (`30d`, `12h`, `90m`, `0s`, `2w`); a bare number is days.
The CLI's maintenance commands and the web page's forms read them the same way."""

from __future__ import annotations

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DIGITS = 12  # ~30,000 years of seconds: enough for any rule, small enough for DynamoDB's numbers


def seconds(text: str, allow_zero: bool = False) -> int:
    """Seconds in `text`; ValueError saying what is accepted if it is not a duration."""
    text = text.strip().lower()
    number, unit = (text, "d") if text.isdigit() else (text[:-1], text[-1:])
    if not number.isdigit() or len(number) > MAX_DIGITS or unit not in UNITS or (int(number) == 0 and not allow_zero):
        raise ValueError(f"invalid duration {text[:40]!r} (use e.g. 30d, 12h, 90m{', 0s' if allow_zero else ''})")
    return int(number) * UNITS[unit]


def text(value: int | None) -> str:
    """The shortest exact way to write `value` seconds (`30d`, `36h`, `90s`); empty for None."""
    if value is None:
        return ""
    for unit, length in sorted(UNITS.items(), key=lambda item: -item[1]):
        if value and value % length == 0:
            return f"{value // length}{unit}"
    return f"{value}s"
