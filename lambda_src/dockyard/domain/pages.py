"""Listing pages bounded by bytes as well as by count, so that the largest page fits a Lambda response.

A Function URL buffers at most 6,291,456 bytes of response. A page's JSON body stays under
`MAX_PAGE_BYTES`, which fits however the handler sends it: base64 adds a third, and escaping ASCII JSON
into the response's own JSON string at most doubles it.
"""

from __future__ import annotations

import json

from dockyard.errors import Err, RegistryError

MAX_PAGE_BYTES = 2 * 1024 * 1024
# The most entries one listing page returns, whatever `n` asks; a `Link` header leads to the rest.
MAX_PAGE = 1000


def page_size(n: int | None, most: int = MAX_PAGE) -> int:
    """The count a page asked for with `n` (None: the most) may hold."""
    if n is not None and n < 0:
        raise RegistryError(Err.INVALID_PARAMETER, "n must not be negative")
    return most if n is None else min(n, most)


class Budget:
    """The bytes of JSON left on one page."""

    def __init__(self, total: int = MAX_PAGE_BYTES):
        self.left, self.taken = total, 0

    def take(self, value) -> bool:
        """Count `value` in, if it fits (the first one always does, so that a listing always moves on)."""
        size = len(json.dumps(value)) + 2  # and ", " before the next
        if self.taken and size > self.left:
            return False
        self.left -= size
        self.taken += 1
        return True


def within_bytes(items: list, last_of) -> tuple[list, str | None]:
    """The leading `items` that `MAX_PAGE_BYTES` of JSON holds, and (if some were cut) the key to continue
    after the last one kept (`last_of(item)`); (items, None) when all fit."""
    budget = Budget()
    for count, item in enumerate(items):
        if not budget.take(item):
            return items[:count], last_of(items[count - 1])
    return items, None
