"""Pull hints: what a pull of an image asks for after its manifest, kept with the manifest by its push.

docker, containerd and skopeo read a manifest, then its config and its layers. On an instance that has not
served the image lately, each of those is a DynamoDB read of its link, and the config (a few KiB) is a
redirect that costs the client an S3 GET as well. The push knows all of it already: it checks that every
blob is linked, and its transaction counts the manifest on each link, conditioned on the link's location
being the one it read. A link that a manifest counts is not removed while the manifest exists, and moves
only when its bytes were lost and uploaded again: the move removes the hints that name where it was
(`dockyard.storage.dynamo.hints`), and a push that read it before the move fails its write. So the
manifest's item and its tags' items carry where each blob is linked, and the config's bytes when small
(`PullHints`). An instance that reads such an item from the table remembers both (`Blobs.prime`), for
as long as it would remember a link it read itself: the blob GETs of the pull that follow cost no AWS call,
and the config is answered from memory.

Costs: a push reads a config of at most `CONFIG_HINT` bytes from S3 once (one GetObject). A pull pays for
the bytes the hints add to the one read it makes anyway (read units are per 4 KB).
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.domain.digest import Digest
from dockyard.domain.manifest import Manifest
from dockyard.domain.mediatypes import IMAGE_MANIFESTS
from dockyard.storage.interfaces import MAX_INLINE_BODY_BYTES
from dockyard.storage.types import BlobRef, PullHints

# A config of at most this many bytes travels with its manifest (an image's config is a few KiB).
CONFIG_HINT = 8 * 1024
# An image of at most this many blobs carries hints (images have a few dozen layers at most).
MAX_HINTED_BLOBS = 64


def pull_hints(manifest: Manifest, links: dict[Digest, BlobRef], copies: int,
               read: Callable[[str], bytes | None]) -> PullHints | None:
    """The hints of an image whose blobs are all in `links`, or None: not an image, too many blobs, or the
    `copies` items that carry them (the manifest's and its tags') would pass `MAX_INLINE_BODY_BYTES`.
    `read(location)` reads the config's bytes (None if it could not: the hints go without them)."""
    if manifest.media_type not in IMAGE_MANIFESTS or not manifest.blobs or len(manifest.blobs) > MAX_HINTED_BLOBS:
        return None
    if any(digest not in links for digest in manifest.blobs):
        return None
    hinted = tuple((digest, links[digest]) for digest in manifest.blobs)  # the config first
    config_ref = hinted[0][1]
    config = read(config_ref.location) if config_ref.size <= CONFIG_HINT else None
    weight = sum(len(str(digest)) + len(ref.location) + 24 for digest, ref in hinted) + len(config or b"")  # at most
    if (manifest.size + weight) * copies > MAX_INLINE_BODY_BYTES:
        return None
    return PullHints(hinted, config)


def config_of(hints: PullHints) -> tuple[Digest, bytes] | None:
    """The config's digest and bytes, if the hints carry them and they match (checked: they go to clients)."""
    if hints.config is None or not hints.links:
        return None
    digest, ref = hints.links[0]
    if len(hints.config) != ref.size or Digest.of(hints.config, digest.algorithm) != digest:
        return None
    return digest, hints.config
