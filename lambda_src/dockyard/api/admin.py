"""The admin API (Dockyard extension, admin only): access keys, anonymous pull, upstreams of the
pull-through cache.

    POST   /dockyard/v1/keys          {"name", "allow": ["team/*=pull,push"], "expires_in": seconds}
    GET    /dockyard/v1/keys?n=&last=     by id, paginated with `Link` like the OCI listings
    DELETE /dockyard/v1/keys/<id>     revoke (the key stays listed, as revoked)
    GET    /dockyard/v1/anonymous
    PUT    /dockyard/v1/anonymous     {"pull": ["public/*"]}
    POST   /dockyard/v1/upstreams     {"name", "url", "username"?, "password"?, "docker_hub_mirror"?}
    GET    /dockyard/v1/upstreams     (passwords are never returned)
    DELETE /dockyard/v1/upstreams/<name>
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from dockyard.api import urls
from dockyard.api.access import Admin
from dockyard.api.deps import RegistryDep, read_json
from dockyard.audit import audited
from dockyard.errors import Err, RegistryError

router = APIRouter(prefix="/dockyard/v1")


def strings(value, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(Err.INVALID_PARAMETER, f"{field} must be a list of strings")
    return value


@router.post("/keys")
@audited("key.create")
def create_key(request: Request, registry: RegistryDep, admin: Admin) -> JSONResponse:
    body = read_json(request)
    expires_in = body.get("expires_in")
    if expires_in is not None and (not isinstance(expires_in, int) or isinstance(expires_in, bool)):
        raise RegistryError(Err.INVALID_PARAMETER, "expires_in must be a number of seconds")
    key, secret = registry.access.create_key(str(body.get("name", "")), strings(body.get("allow"), "allow"),
                                             expires_in)
    return JSONResponse({"id": key["id"], "secret": secret, "key": key}, status_code=201,
                        headers={"Location": f"/dockyard/v1/keys/{key['id']}", "Cache-Control": "no-store"})


@router.get("/keys")
def list_keys(registry: RegistryDep, admin: Admin, n: Annotated[int | None, Query()] = None,
              last: str | None = None) -> JSONResponse:
    page = registry.access.list_keys(n, last)
    headers = {"Link": urls.next_link(urls.KEYS, n, page.last)} if page.last else {}
    return JSONResponse({"keys": page.items}, headers=headers)


@router.delete("/keys/{key_id}")
@audited("key.revoke")
def revoke_key(key_id: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    key = registry.access.revoke_key(key_id)
    return JSONResponse({"key": key}, headers={"Location": f"/dockyard/v1/keys/{key['id']}"})


@router.get("/anonymous")
def get_anonymous(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"pull": registry.access.anonymous()})


@router.put("/anonymous")
@audited("anonymous.set")
def set_anonymous(request: Request, registry: RegistryDep, admin: Admin) -> JSONResponse:
    patterns = strings(read_json(request).get("pull"), "pull")
    return JSONResponse({"pull": registry.access.set_anonymous(patterns)})


def _optional_string(body: dict, field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise RegistryError(Err.INVALID_PARAMETER, f"{field} must be a string")
    return value or None


@router.post("/upstreams")
@audited("upstream.add")
def add_upstream(request: Request, registry: RegistryDep, admin: Admin) -> JSONResponse:
    body = read_json(request)
    mirror = body.get("docker_hub_mirror", False)
    if not isinstance(mirror, bool):
        raise RegistryError(Err.INVALID_PARAMETER, "docker_hub_mirror must be true or false")
    upstream = registry.upstreams.add(str(body.get("name", "")), str(body.get("url", "")),
                                      _optional_string(body, "username"), _optional_string(body, "password"), mirror)
    return JSONResponse({"upstream": upstream}, status_code=201, headers={
        "Location": f"/dockyard/v1/upstreams/{upstream['name']}", "Cache-Control": "no-store"})


@router.get("/upstreams")
def list_upstreams(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"upstreams": registry.upstreams.list()})


@router.delete("/upstreams/{upstream}")
@audited("upstream.remove")
def remove_upstream(upstream: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"upstream": registry.upstreams.remove(upstream)})
