"""The admin API of governance (Dockyard extension, admin only): immutable tags, usage and cost.

    GET    /dockyard/v1/immutability                  {"rules": [{"pattern", "mutable_tags", "created_at"}]}
    PUT    /dockyard/v1/immutability/<glob>           {"mutable_tags": ["latest", "dev-*"]}
    DELETE /dockyard/v1/immutability/<glob>
    GET    /dockyard/v1/quotas                        {"quotas": [{"pattern", "limit", "used", "state", ...}]}
    PUT    /dockyard/v1/quotas/<glob>                 {"bytes": 52428800}: set, then count in what the
           namespace holds for a while; "state" stays "counting" until a PUT finds it done ("count_after":
           not before then)
    DELETE /dockyard/v1/quotas/<glob>                 stops enforcing it; {"done": false}: delete again
    GET    /dockyard/v1/usage?glob=team/*&days=30&egress=in-region|internet|<$ per GB>&n=50&last=<repo>
           {"since", "days", "egress", "model", "repositories": [...], "next": <repo> | null}

A glob is a path (`prod/*`): it is the rest of the URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
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


@router.get("/usage")
def usage(registry: RegistryDep, admin: Admin, glob: str = "*", days: Annotated[int, Query(ge=1)] = 30,
          egress: str = "in-region", n: Annotated[int | None, Query(ge=1)] = None, last: str | None = None) -> JSONResponse:
    return JSONResponse(registry.usage.report(glob, days, egress, n, last))


@router.get("/quotas")
def list_quotas(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"quotas": registry.quotas.list()})


@router.put("/quotas/{pattern:path}")
@audited("quota.set")
def set_quota(request: Request, pattern: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"quota": registry.quotas.set(pattern, read_json(request).get("bytes"))})


@router.delete("/quotas/{pattern:path}")
@audited("quota.delete")
def delete_quota(pattern: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse(registry.quotas.delete(pattern))
