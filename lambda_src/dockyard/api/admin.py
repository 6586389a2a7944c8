"""The admin API (Dockyard extension, admin only): access keys and anonymous pull.

    POST   /dockyard/v1/keys          {"name", "allow": ["team/*=pull,push"], "expires_in": seconds}
    GET    /dockyard/v1/keys
    DELETE /dockyard/v1/keys/<id>     revoke (the key stays listed, as revoked)
    GET    /dockyard/v1/anonymous
    PUT    /dockyard/v1/anonymous     {"pull": ["public/*"]}
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from dockyard.api.access import Admin
from dockyard.api.deps import RegistryDep, read_json
from dockyard.audit import audited
from dockyard.errors import Err, RegistryError

router = APIRouter(prefix="/dockyard/v1")


def _strings(value, field: str) -> list[str]:
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
    key, secret = registry.access.create_key(str(body.get("name", "")), _strings(body.get("allow"), "allow"),
                                             expires_in)
    return JSONResponse({"id": key["id"], "secret": secret, "key": key}, status_code=201,
                        headers={"Location": f"/dockyard/v1/keys/{key['id']}", "Cache-Control": "no-store"})


@router.get("/keys")
def list_keys(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"keys": registry.access.list_keys()})


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
    patterns = _strings(read_json(request).get("pull"), "pull")
    return JSONResponse({"pull": registry.access.set_anonymous(patterns)})
