"""The whole storage layout, in one place. No module outside `dockyard.storage` builds these keys.

S3, one bucket:

    blobs/<alg>/<2 hex>/<encoded>        a blob written whole, after its digest was verified in memory
    blobs/assembled/<upload id>          a blob assembled by a multipart upload; once its digest is verified
                                         it stays where it is (no copy) and its records point at it
    blobs/direct/<upload id>/<nonce>     a blob a client put straight into S3 (`dockyard push`, the gateway);
                                         linked in place once verified
    manifests/<alg>/<2 hex>/<encoded>    manifest bodies too large to keep inline in DynamoDB
    uploads/<upload id>/tail/<nonce>     bytes received after the last multipart part (< 5 MiB)

    Every blob object is immutable once linked, and shared by every repository it is linked into.
    Lifecycle rules abort incomplete multipart uploads and expire `uploads/` leftovers.

DynamoDB, one table, string keys `pk` / `sk`:

    pk = repo#<name>
        sk = blob#<digest>                 link: the blob is visible in this repository   {size, location}
        sk = manifest#<digest>             manifest   {media_type, size, body | body_in_s3, subject, ...}
        sk = tag#<tag>                     tag        {digest, and a copy of the manifest fields, so that a
                                                       pull by tag costs one read}
        sk = referrer#<subject>#<digest>   a manifest whose subject is <subject>   {descriptor fields}
    pk = blob#<digest>      sk = blob      global record: the bytes are in S3   {size, location}
    pk = upload#<id>        sk = upload    upload session   {repo, offset, parts, tail, hash, expires_at}
    pk = catalog            sk = repo#<name>   one item per repository, in lexical order
    pk = auth               sk = key#<key id>  an access key   {name, rules, salt, secret_hash, created_at,
                                                                  expires_at, last_used, revoked_at}
    pk = auth               sk = anonymous     what anonymous callers may pull   {rules}

`location` is the blob's S3 key, so that a blob GET presigns from the link alone (one read, no S3 call).
Sort keys sort by UTF-8 bytes, which for the spec's grammars is the ASCIIbetical order that tag and catalog
listings require.
"""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.resources import BLOB_PREFIX, MANIFEST_PREFIX, UPLOAD_PREFIX

# --- S3 -------------------------------------------------------------------------------------------------


def _addressed(prefix: str, digest: Digest) -> str:
    return f"{prefix}{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}"


def blob_key(digest: Digest) -> str:
    return _addressed(BLOB_PREFIX, digest)


def manifest_body_key(digest: Digest) -> str:
    return _addressed(MANIFEST_PREFIX, digest)


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


def link_sk(digest: Digest) -> str:
    return f"blob#{digest}"


def manifest_sk(digest: Digest) -> str:
    return f"manifest#{digest}"


def tag_sk(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}"


def referrer_sk(subject: Digest, digest: Digest | None = None) -> str:
    return f"{REFERRER_PREFIX}{subject}#" + (str(digest) if digest else "")


def blob_record_pk(digest: Digest) -> str:
    return f"blob#{digest}"


BLOB_RECORD_SK = "blob"


def upload_pk(upload_id: str) -> str:
    return f"upload#{upload_id}"


UPLOAD_SK = "upload"


def catalog_sk(name: str) -> str:
    return f"{REPO_PREFIX}{name}"


AUTH_PK = "auth"
ACCESS_KEY_PREFIX = "key#"
ANONYMOUS_SK = "anonymous"


def access_key_sk(key_id: str) -> str:
    return f"{ACCESS_KEY_PREFIX}{key_id}"
