"""The maintenance admin API (Dockyard extension, admin only): GC runs, retention rules, pull tracking.

    POST   /dockyard/v1/gc                          {"dry_run": false, "grace": seconds}: 202, the run
    GET    /dockyard/v1/gc/runs                     the latest runs
    GET    /dockyard/v1/gc/runs/<id>                a run: state, phase, counts
    GET    /dockyard/v1/gc/runs/<id>/report?part=N  what it deleted (or would), and why
    GET    /dockyard/v1/retention                   the rules
    PUT    /dockyard/v1/retention/<glob>            {"keep_last", "expire_after", "untagged_after",
                                                     "unpulled_after" (seconds), "tags", "keep_tags"}
    DELETE /dockyard/v1/retention/<glob>
    GET    /dockyard/v1/repositories/<name>/manifests?n=&last=   tags, pushed_at, last_pulled per manifest
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from dockyard.api import urls
from dockyard.api.access import Admin
from dockyard.api.deps import RegistryDep, read_json
from dockyard.audit import audited
from dockyard.errors import Err, RegistryError
from dockyard.storage.types import RetentionRule

router = APIRouter(prefix="/dockyard/v1")
RULE_FIELDS = ("keep_last", "expire_after", "untagged_after", "unpulled_after")


@router.post("/gc")
@audited("gc.start")
def start_gc(request: Request, registry: RegistryDep, admin: Admin) -> JSONResponse:
    body = read_json(request)
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise RegistryError(Err.INVALID_PARAMETER, "dry_run must be true or false")
    run = registry.maintenance.start(dry_run, body.get("grace"))
    return JSONResponse({"run": run}, status_code=202, headers={"Location": f"/dockyard/v1/gc/runs/{run['id']}"})


@router.get("/gc/runs")
def list_runs(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"runs": registry.maintenance.runs()})


@router.get("/gc/runs/{run_id}")
def get_run(run_id: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"run": registry.maintenance.run(run_id)})


@router.get("/gc/runs/{run_id}/report")
def get_report(run_id: str, registry: RegistryDep, admin: Admin, part: int = Query(0)) -> JSONResponse:
    entries = registry.maintenance.report(run_id, part)
    return JSONResponse({"part": part, "entries": entries})


@router.get("/retention")
def list_rules(registry: RegistryDep, admin: Admin) -> JSONResponse:
    return JSONResponse({"rules": registry.maintenance.rules()})


@router.put("/retention/{pattern:path}")
@audited("retention.set")
def set_rule(pattern: str, request: Request, registry: RegistryDep, admin: Admin) -> JSONResponse:
    body = read_json(request)
    unknown = set(body) - {*RULE_FIELDS, "tags", "keep_tags"}
    if unknown:
        raise RegistryError(Err.INVALID_PARAMETER, f"unknown fields: {sorted(unknown)}")
    patterns = {name: body.get(name) or [] for name in ("tags", "keep_tags")}
    for name, value in patterns.items():
        if not isinstance(value, list):
            raise RegistryError(Err.INVALID_PARAMETER, f"{name} must be a list of tag patterns")
    rule = RetentionRule(pattern=pattern, **{name: body.get(name) for name in RULE_FIELDS},
                         tags=tuple(patterns["tags"]), keep_tags=tuple(patterns["keep_tags"]))
    return JSONResponse({"rule": registry.maintenance.set_rule(rule)})


@router.delete("/retention/{pattern:path}")
@audited("retention.delete")
def delete_rule(pattern: str, registry: RegistryDep, admin: Admin) -> JSONResponse:
    registry.maintenance.delete_rule(pattern)
    return JSONResponse({"deleted": pattern})


@router.get("/repositories/{name:path}/manifests")
def list_manifests(name: str, registry: RegistryDep, admin: Admin, n: int | None = Query(None),
                   last: str | None = Query(None)) -> JSONResponse:
    manifests, more = registry.maintenance.manifests(name, n, last)
    headers = {"Link": urls.next_link(f"/dockyard/v1/repositories/{name}/manifests", n, more)} if more else {}
    return JSONResponse({"name": name, "manifests": manifests}, headers=headers)
