"""The whole storage layout, in one place. No module outside `dockyard.storage` builds these keys.

S3, one bucket:

    blobs/<alg>/<2 hex>/<encoded>/<nonce>  a blob written whole, after its digest was verified in memory
    blobs/assembled/<upload id>            a blob assembled by a chunked upload's multipart upload; once its
                                           digest is verified it stays where it is (no copy)
    blobs/direct/<upload id>/<nonce>       a blob a client put straight into S3 (`dockyard push`, the
                                           gateway); linked in place once verified
    uploads/<upload id>/tail/<nonce>       bytes a chunked upload received after its last part (< 5 MiB)

    Every blob object is immutable once linked, and shared by every repository it is linked into. Every key
    is fresh: written by one upload, recorded by at most that one, and never written again once its record is
    gone (so deleting the bytes of a doomed record never hits a copy an upload is recording meanwhile).
    Objects written before their digest was verified carry the tag `dockyard=unverified` until they are
    verified (just before they are linked, never after: then `dockyard=verified`). The lifecycle rules
    (`dockyard.resources.LIFECYCLE_RULES`) abort incomplete multipart uploads and expire `uploads/` leftovers
    and unverified objects. Manifest bodies too large for an item are blobs of their repository. With edge
    downloads, CloudFront serves `blobs/` as its origin path: a blob's URL path there is its key without
    `blobs/` (`dockyard.storage.edge`), and no other key has one.

DynamoDB, one table, string keys `pk` and `sk`. `expires_at` is the table's TTL attribute: DynamoDB deletes
an item some time after that moment, so only upload sessions, fetch claims, GC runs and their reports, and
usage counters carry it. Attributes marked `?` may be absent; `a | b` is one of the two. Items that may be
garbage carry `gc_at` (epoch seconds: since when) beside their `gc_shard` (one hex digit of the hash of their
key): the sparse index `gc` on (gc_shard, gc_at) is the garbage collector's queue (see `dockyard.maintenance`).
Counters (`refs`, `links`, `parents`) are absent or 0 when nothing counts.

    pk = repo#<name>, sk = blob#<digest>
        a link: the blob is visible in this repository; `refs` counts the manifests of the repository that
        reference it; `gc_at` is set when it is created, whenever `refs` goes down and when it moves; `quotas`
        holds the ids of the storage quotas that counted it; `stale_hints` is the location it moved from
        (its bytes were found gone and uploaded again) while pull hints may still name it
        {size, location, refs?, gc_shard, gc_at?, quotas?, stale_hints?}
        or a placeholder: a pull-through cache's manifest counted on a blob not fetched yet (not a link, and
        counted by no quota)
        {refs?, gc_shard, gc_at?}
    pk = repo#<name>, sk = manifest#<digest>
        a manifest, the set of the tags that point to it, and a version every change of that set bumps;
        `parents` counts the indexes of the repository that list it; `pushed_at` is its first push,
        `untagged_at` the last time a tag left it, `last_pulled` the last pull by digest (epoch seconds;
        stamped at most hourly); a body too large for the item is a blob of the repository, at
        `body_location`; `lazy` marks a pull-through cache's manifest, counted on its blobs only (on
        placeholders where not fetched yet), not on its children; an image's push keeps what its pull asks
        next: `blob_refs`, one line `<digest> <size> <location>` per blob it references (config first), as
        linked when it was pushed, and `config_bytes`, its config's bytes (zlib) when small
        {digest, media_type, size, body | body_location, subject?, artifact_type?, blob_refs?, config_bytes?,
         tags?, version, parents?, pushed_at, untagged_at?, last_pulled?, lazy?}
    pk = repo#<name>, sk = tag#<tag>
        a tag, with a copy of its manifest's fields, so that a pull by tag costs one read; `pushed_at` is
        when the tag was last pushed, `last_pulled` its last pull since (stamped at most hourly); a tag the
        pull-through cache stored carries when its upstream last confirmed it
        {digest, media_type, size, body | body_location, subject?, artifact_type?, blob_refs?, config_bytes?,
         pushed_at, last_pulled?, checked_at?}
    pk = repo#<name>, sk = usage#<YYYY-MM-DD>
        the repository's activity on a day (UTC): manifest GETs, blob GETs redirected to S3 and blob GETs an
        instance answered from memory (`served`) with the bytes of each, manifest PUTs, the last pull and push
        (epoch seconds); counted per instance and added in batches; kept for 400 days
        {pulls?, redirects?, redirect_bytes?, served?, served_bytes?, pushes?, last_pull?, last_push?, expires_at}
    pk = repo#<name>, sk = referrer#<subject>#<digest>
        a manifest whose subject is <subject>, as the referrers API lists it (annotations as JSON)
        {digest, media_type, size, subject, artifact_type?, annotations?}
    pk = repo#<name>, sk = pending#<digest>
        a manifest with more references than one transaction holds, while they are counted in batches:
        the first `done` of its `total` references are counted (its body says which)
        {done, total, media_type, body | body_location, lazy?, gc_shard, gc_at}
    pk = repo#<name>, sk = unref#<digest>#<nonce>
        a deleted manifest whose references are being uncounted in batches: `done` of `total` are
        {done, total, media_type, body | body_location, lazy?, gc_shard, gc_at}
    pk = blob#<digest>, sk = blob
        the blob's record: its bytes are in S3, whatever repositories link it; `links` counts its links;
        `doomed` (a stamp) is set while garbage collection deletes its bytes; `gc_at` is set when `links`
        goes down
        {size, location, links?, gc_shard, gc_at?, doomed?}
    pk = drop#<location>, sk = drop
        bytes an upload stored but did not link (a duplicate, a mismatch, a cancel): to be deleted
        {digest, gc_shard, gc_at}
    pk = upload#<id>, sk = upload
        a chunked upload session; `lock` and `lock_until` are its write lease; `gc_at` is its expiry
        {repo, offset, parts, multipart_id?, tail?, tail_size?, hash_state?, expires_at, lock?, lock_until?,
         gc_shard, gc_at}
        or a direct upload session (the client sends the bytes to S3), told apart by its `digest`
        {repo, digest, size, location, part_size, multipart_id?, expires_at, lock?, lock_until?, gc_shard,
         gc_at}
    pk = catalog, sk = repo#<name>
        a repository, one item each
        {}
    pk = immutability, sk = rule#<repository glob>
        an immutability rule: tags of the repositories it matches cannot move or go, but those matching one
        of the tag globs `mutable_tags` (a JSON list)
        {mutable_tags, created_at}
    pk = retention, sk = rule#<repository glob>
        a retention rule (durations in seconds; tag patterns as JSON lists)
        {keep_last?, expire_after?, untagged_after?, unpulled_after?, tags, keep_tags, created_at}
    pk = gc, sk = run#<run id>
        a garbage collection run: its settings, phase, cursor and counts, as JSON (run ids sort by time)
        {run, expires_at}
    pk = gc, sk = report#<run id>#<part>
        a part of a run's report: the deletions and their reasons, as JSON
        {entries, expires_at}
    pk = gc, sk = lock
        the lease of the run that may delete (one at a time)
        {run, lock_until}
    pk = quota, sk = rule#<repository glob>
        a storage quota: at most `limit` bytes of distinct blobs linked in the namespace, `used` now; `id`
        names its counts; `counting` while the links it found are counted in (from `count_after`, after
        `cursor`), `deleting` while its counts are removed
        {limit, id, used, created_at, counting?, count_after, cursor?, deleting?}
    pk = quota#<id>, sk = blob#<digest>
        a blob in a quota's namespace: how many of its links there are, its size, and the quota's glob
        {links, size, pattern}
    pk = auth, sk = key#<key id>
        an access key; rules as JSON; its expiry is `key_expires_at`, not the TTL `expires_at`, which would
        have DynamoDB delete expired keys
        {name, rules, salt, secret_hash, created_at, key_expires_at?, last_used?, revoked_at?}
    pk = auth, sk = anonymous
        what anonymous callers may pull, as JSON rules
        {rules}
    pk = upstream, sk = upstream#<name>
        an upstream registry of the pull-through cache; its credentials are a Secrets Manager secret
        {url, mirror, created_at, username?, secret_id?}
    pk = upstream, sk = mirror
        which upstream serves unprefixed names (Docker Hub mirror mode); at most one
        {upstream}
    pk = fetch#<digest>, sk = fetch
        a claim on fetching a blob from an upstream, so that concurrent pulls fetch it once
        {token, lock_until, expires_at}

`location` is the blob's S3 key, so that a blob GET presigns from the link alone (one read, no S3 call).
Sort keys sort by UTF-8 bytes, which for the spec's grammars is the ASCIIbetical order that tag and catalog
listings require.
"""

from __future__ import annotations

import hashlib
import secrets

from dockyard.domain.digest import Digest
from dockyard.resources import BLOB_PREFIX, UPLOAD_PREFIX, Table

# --- S3 -------------------------------------------------------------------------------------------------


def blob_key(digest: Digest) -> str:
    """A fresh key for a blob's bytes (never one that was used before)."""
    return f"{BLOB_PREFIX}{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}/{secrets.token_hex(8)}"


def direct_blob_key(upload_id: str, nonce: str) -> str:
    return f"{BLOB_PREFIX}direct/{upload_id}/{nonce}"


def upload_prefix(upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}{upload_id}/"


def assembled_blob_key(upload_id: str) -> str:
    return f"{BLOB_PREFIX}assembled/{upload_id}"


def upload_tail_key(upload_id: str, nonce: str) -> str:
    return f"{upload_prefix(upload_id)}tail/{nonce}"


# --- DynamoDB -------------------------------------------------------------------------------------------

CATALOG_PK = "catalog"
TAG_PREFIX = "tag#"
REPO_PREFIX = "repo#"
REFERRER_PREFIX = "referrer#"


def repo_pk(name: str) -> str:
    return f"{REPO_PREFIX}{name}"


LINK_PREFIX = "blob#"
MANIFEST_ITEM_PREFIX = "manifest#"


def link_sk(digest: Digest) -> str:
    return f"{LINK_PREFIX}{digest}"


def manifest_sk(digest: Digest) -> str:
    return f"{MANIFEST_ITEM_PREFIX}{digest}"


def tag_sk(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}"


USAGE_PREFIX = "usage#"


def usage_sk(day: str) -> str:
    return f"{USAGE_PREFIX}{day}"


def referrer_sk(subject: Digest, digest: Digest | None = None) -> str:
    return f"{REFERRER_PREFIX}{subject}#" + (str(digest) if digest else "")


def pending_sk(digest: Digest) -> str:
    return f"pending#{digest}"


def unref_sk(digest: Digest) -> str:
    return f"unref#{digest}#{secrets.token_hex(8)}"


def blob_record_pk(digest: Digest) -> str:
    return f"blob#{digest}"


BLOB_RECORD_SK = "blob"


def drop_pk(location: str) -> str:
    return f"drop#{location}"


DROP_SK = "drop"


def gc_shard(pk: str, sk: str) -> str:
    """The queue shard of an item: one hex digit of its key's hash, so that writes spread over the index."""
    return format(hashlib.sha256(f"{pk}\0{sk}".encode()).digest()[0] % Table.GC_SHARDS, "x")


def upload_pk(upload_id: str) -> str:
    return f"upload#{upload_id}"


UPLOAD_SK = "upload"


def catalog_sk(name: str) -> str:
    return f"{REPO_PREFIX}{name}"


RETENTION_PK = "retention"
RULE_PREFIX = "rule#"


def rule_sk(pattern: str) -> str:
    return f"{RULE_PREFIX}{pattern}"


IMMUTABILITY_PK = "immutability"
QUOTA_PK = "quota"


def quota_pk(quota_id: str) -> str:
    return f"{QUOTA_PK}#{quota_id}"


GC_PK = "gc"
RUN_PREFIX = "run#"
LOCK_SK = "lock"


def run_sk(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def report_sk(run_id: str, part: int) -> str:
    return f"report#{run_id}#{part:05d}"


AUTH_PK = "auth"
ACCESS_KEY_PREFIX = "key#"
ANONYMOUS_SK = "anonymous"


def access_key_sk(key_id: str) -> str:
    return f"{ACCESS_KEY_PREFIX}{key_id}"


UPSTREAMS_PK = "upstream"
UPSTREAM_PREFIX = "upstream#"
MIRROR_SK = "mirror"


def upstream_sk(name: str) -> str:
    return f"{UPSTREAM_PREFIX}{name}"


def fetch_pk(digest: Digest) -> str:
    return f"fetch#{digest}"


FETCH_SK = "fetch"
