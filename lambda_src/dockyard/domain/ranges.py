"""Byte ranges: the `Content-Range` an upload chunk claims, the `Range` an upload reports, and the `Range` a
blob GET asks for (RFC 9110 §14), checked before the redirect: storage would answer an invalid range with
the whole object and 200, where the client asked for part of it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import Err, RegistryError

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:/(?:\d{1,15}|\*))?\Z")


@dataclass(frozen=True)
class Chunk:
    """The inclusive byte range a chunk claims (from `Content-Range`)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @classmethod
    def parse(cls, content_range: str | None, content_length: int | None) -> Chunk | None:
        """None without a `Content-Range` (the body is appended); a range that does not parse, or that
        disagrees with `Content-Length`, is refused."""
        if content_range is None:
            return None
        match = _CONTENT_RANGE.match(content_range.strip())
        if not match or int(match[2]) < int(match[1]):
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, f"invalid Content-Range: {content_range[:100]!r}")
        chunk = cls(int(match[1]), int(match[2]))
        if content_length is not None and content_length != chunk.length:
            raise RegistryError(Err.SIZE_INVALID,
                                f"Content-Length {content_length} does not match Content-Range {content_range}")
        return chunk


def range_header(offset: int) -> str:
    """The `Range` an upload reports: the inclusive range stored so far (`0-0` when empty, as distribution)."""
    return f"0-{max(offset - 1, 0)}"


def check_received(chunk: Chunk | None, received: int) -> None:
    """A chunk must bring exactly the bytes its range announced."""
    if chunk and received != chunk.length:
        raise RegistryError(Err.SIZE_INVALID, f"Content-Range announced {chunk.length} bytes; {received} arrived")


_SPEC = re.compile(r"\s*(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))\s*\Z")


def check_range(header: str | None, size: int) -> None:
    """Raise 416 (with `Content-Range: bytes */size`) for a `bytes` range that is invalid (`500-0`,
    garbage) or that no byte of a `size`-byte blob satisfies. Another unit, or none, is ignored."""
    if header is None:
        return
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return
    satisfiable = False
    for spec in specs.split(","):
        match = _SPEC.match(spec)
        if match is None:
            _refuse(header, size, "is not a byte range")
        first, last, suffix = match.groups()
        if suffix is not None:
            satisfiable = satisfiable or (int(suffix) > 0 and size > 0)
        elif last and int(last) < int(first):
            _refuse(header, size, "ends before it starts")
        else:
            satisfiable = satisfiable or int(first) < size
    if not satisfiable:
        _refuse(header, size, f"starts beyond the blob's {size} bytes")


def _refuse(header: str, size: int, why: str) -> None:
    raise RegistryError(Err.RANGE_INVALID, f"range {header[:100]!r} {why}",
                        headers={"Content-Range": f"bytes */{size}"})
