"""Every path the registry hands back to clients (`Location`, `Link`), built in one place."""

from __future__ import annotations

from urllib.parse import urlencode


def upload(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def blob(name: str, digest) -> str:
    return f"/v2/{name}/blobs/{digest}"


def manifest(name: str, digest) -> str:
    return f"/v2/{name}/manifests/{digest}"


def next_link(path: str, n: int | None, last: str) -> str:
    """An RFC 5988 `Link` header value for the next page of a listing."""
    query = {"n": n, "last": last} if n is not None else {"last": last}
    return f'<{path}?{urlencode(query)}>; rel="next"'


def referrers(name: str, digest) -> str:
    return f"/v2/{name}/referrers/{digest}"


def tags(name: str) -> str:
    return f"/v2/{name}/tags/list"


CATALOG = "/v2/_catalog"
KEYS = "/dockyard/v1/keys"
