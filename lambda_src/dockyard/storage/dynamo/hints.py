"""Pull hints in the table (`dockyard.registry.hints`): how a manifest's item and its tags' items carry
them, and how they go when a link they name moves.

`blob_refs` holds one line `<digest> <size> <location>` per blob (config first), `config_bytes` the config's
bytes (zlib). A link that a manifest counts is never removed while the manifest exists; it moves only when
its bytes were found gone and the blob was uploaded again (`DynamoBlobs._repoint`). That move marks the link
in its own transaction (`stale_hints`: the location it left) and queues it; then the hints of the
repository's manifests and tags that still name the location it left are removed, and the mark with them.
If that is cut short, the garbage collector finishes it when it visits the link (`DynamoCollector`). Every
push that writes hints conditions each link they name on its location, so no push writes a location left.

Costs: clearing reads the repository's manifest and tag items once (one strongly consistent Query per 1 MB),
and writes one UpdateItem per item that named the location; it happens only when lost bytes come back.
"""

from __future__ import annotations

import logging
import zlib

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import SK, Change, Cond, Table, b, equals, s, value
from dockyard.storage.types import BlobRef, ConditionFailed, PullHints

log = logging.getLogger(__name__)

# What only a manifest's own item and its tags' items hold of it: not its referrer entry.
REFS, CONFIG = "blob_refs", "config_bytes"
NAMES = (REFS, CONFIG)
# The mark on a link that moved while hints may still name the location it left.
STALE = "stale_hints"


def attributes(hints: PullHints) -> dict:
    """The hints as item attributes (plain values)."""
    values = {REFS: "\n".join(f"{digest} {ref.size} {ref.location}" for digest, ref in hints.links)}
    if hints.config is not None:
        values[CONFIG] = zlib.compress(hints.config)  # JSON: a quarter of it, or less
    return values


def parse(item: dict) -> PullHints | None:
    text = s(item, REFS)
    if not text:
        return None
    return PullHints(tuple(_lines(text)), config(item))


def config(item: dict) -> bytes | None:
    """The config's bytes an item keeps, if any."""
    compressed = b(item, CONFIG)
    return zlib.decompress(compressed) if compressed is not None else None


def _lines(text: str):
    for line in text.split("\n"):
        digest, size, location = line.split(" ", 2)
        yield Digest.parse(digest), BlobRef(int(size), location)


def clear(table: Table, repo: str, digest: Digest, left: str) -> int:
    """Remove the hints of `repo`'s manifests and tags that say `digest` is at `left`, then the link's mark
    (if it still names `left`); returns how many items lost their hints. A hint rewritten meanwhile stays:
    its push found the link where it is now."""
    pk = keys.repo_pk(repo)
    naming = Cond("contains(#refs, :left)", {"#refs": REFS}, {":left": value(left)})
    cleared = 0
    for prefix in (keys.MANIFEST_ITEM_PREFIX, keys.TAG_PREFIX):
        for item in table.query_lazily(pk, prefix, None, 1000, where=naming, attributes=(REFS,),
                                       consistent=True):
            text = item[REFS]["S"]
            if not any(d == digest and ref.location == left for d, ref in _lines(text)):
                continue
            try:
                table.apply(Change(pk, item[SK]["S"], removes=set(NAMES), condition=equals(REFS, text)))
                cleared += 1
            except ConditionFailed:
                pass  # pushed again (or deleted) meanwhile
    try:
        table.apply(Change(pk, keys.link_sk(digest), removes={STALE}, condition=equals(STALE, left)))
    except ConditionFailed:
        pass  # moved again meanwhile (its own clearing follows), or gone
    log.info("cleared the pull hints of %d items of %s that named %s at a location it left", cleared, repo, digest)
    return cleared
