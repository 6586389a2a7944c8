"""The admin API of governance (Dockyard extension, admin only): immutable tags.

    GET    /dockyard/v1/immutability                  {"rules": [{"pattern", "mutable_tags", "created_at"}]}
    PUT    /dockyard/v1/immutability/<glob>           {"mutable_tags": ["latest", "dev-*"]}
    DELETE /dockyard/v1/immutability/<glob>

A glob is a path (`prod/*`): it is the rest of the URL.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from dockyard.api.access import Admin
from dockyard.api.admin import strings
from dockyard.api.deps import RegistryDep, read_json
from dockyard.audit import audited

router = APIRouter(prefix="/dockyard/v1")


@router.get("/immutability")
def list_immutability(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"rules": registry.immutability.list()})


@router.put("/immutability/{pattern:path}")
@audited("immutability.set")
def set_immutability(request: Request, pattern: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    mutable = strings(read_json(request).get("mutable_tags", []), "mutable_tags")
    return JSONResponse({"rule": registry.immutability.set(pattern, mutable)})


@router.delete("/immutability/{pattern:path}")
@audited("immutability.delete")
def delete_immutability(pattern: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"rule": registry.immutability.delete(pattern)})
