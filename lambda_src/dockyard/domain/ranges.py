"""Byte ranges of blob uploads: the `Content-Range` a chunk claims, and the `Range` an upload reports."""

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
