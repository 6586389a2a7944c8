"""Direct uploads (Dockyard extension, push scope): presigned S3 URLs for a blob's bytes.

    POST   /dockyard/v1/direct/<name>/blobs                 {"digest", "size", "multipart"?, "part_size"?}
           -> {"status": "exists" | "mounted"}  or  {"status": "upload", "upload": ID, "method": "single",
              "url", "headers"}  or  {..., "method": "multipart", "part_size", "max_urls", "landed",
              "parts": [...]} (the URLs of the first `max_urls` parts not landed; ask for the others below)
    POST   /dockyard/v1/direct/<name>/blobs/<id>/parts      {"numbers": [...]}  -> part URLs (`max_urls` at most)
    POST   /dockyard/v1/direct/<name>/blobs/<id>/complete   -> 201, Docker-Content-Digest (verified, linked)
    DELETE /dockyard/v1/direct/<name>/blobs/<id>            -> 204
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from dockyard.api import urls
from dockyard.api.access import Push
from dockyard.api.deps import RegistryDep, read_json
from dockyard.audit import audited

router = APIRouter(prefix="/dockyard/v1/direct")


def _may_mount(request: Request, registry) -> bool:
    """Using any copy of a blob reveals nothing with access control off, or to an admin."""
    caller = getattr(request.state, "caller", None)
    return not registry.settings.auth or bool(caller and caller.is_admin)


@router.post("/{name:path}/blobs")
def begin_direct_upload(request: Request, name: Push, registry: RegistryDep) -> JSONResponse:
    body = read_json(request)
    plan = registry.direct.begin(name, body.get("digest"), body.get("size"), body.get("multipart"),
                                 body.get("part_size"), _may_mount(request, registry))
    return JSONResponse(plan, headers={"Cache-Control": "no-store"})


@router.post("/{name:path}/blobs/{upload_id}/parts")
def refresh_part_urls(request: Request, name: Push, upload_id: str, registry: RegistryDep) -> JSONResponse:
    numbers = read_json(request).get("numbers") or []
    return JSONResponse(registry.direct.part_urls(name, upload_id, numbers), headers={"Cache-Control": "no-store"})


@router.post("/{name:path}/blobs/{upload_id}/complete")
@audited("blob.push")
def complete_direct_upload(name: Push, upload_id: str, registry: RegistryDep) -> Response:
    info = registry.direct.complete(name, upload_id)
    return Response(status_code=201, headers={"Location": urls.blob(name, info.digest),
                                              "Docker-Content-Digest": str(info.digest)})


@router.delete("/{name:path}/blobs/{upload_id}")
def abort_direct_upload(name: Push, upload_id: str, registry: RegistryDep) -> Response:
    registry.direct.abort(name, upload_id)
    return Response(status_code=204)
