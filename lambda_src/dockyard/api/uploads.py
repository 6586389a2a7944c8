"""Blob uploads: POST (session, monolithic or mount), PATCH, PUT, GET status, DELETE."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from dockyard.api import urls
from dockyard.api.body import RequestBody
from dockyard.api.access import Mount, Push, PushOrMount
from dockyard.api.deps import ContentRange, RegistryDep
from dockyard.audit import audited
from dockyard.domain.ranges import range_header
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.uploads import UploadState

router = APIRouter()
# The largest request body this host accepts (Lambda's payload cap), for clients that choose a chunk size.
CHUNK_MAX_HEADER = "Dockyard-Chunk-Max-Length"


def _created(name: str, info: BlobInfo) -> Response:
    return Response(status_code=201, headers={
        "Location": urls.blob(name, info.digest), "Docker-Content-Digest": str(info.digest)})


def _accepted(name: str, session: UploadState, max_chunk: int | None, status: int = 202) -> Response:
    headers = {"Location": urls.upload(name, session.id), "Range": range_header(session.offset),
               "Docker-Upload-UUID": session.id}
    if max_chunk:
        headers[CHUNK_MAX_HEADER] = str(max_chunk)
    return Response(status_code=status, headers=headers)


@router.post("/v2/{name:path}/blobs/uploads/")
@router.post("/v2/{name:path}/blobs/uploads", include_in_schema=False)
@audited("blob.push", status=201)  # a session opened is not a push
def start_upload(request: Request, name: PushOrMount, registry: RegistryDep, mount_from: Mount,
                 digest: str | None = None, mount: str | None = None) -> Response:
    if mount is not None and mount_from.allowed:
        info = registry.blobs.mount(name, mount, mount_from.source)
        if info is not None:
            return _created(name, info)
    elif digest is not None:
        return _created(name, registry.uploads.upload(name, digest, RequestBody(request)))
    return _accepted(name, registry.uploads.start(name), registry.uploads.max_chunk)


@router.patch("/v2/{name:path}/blobs/uploads/{upload_id}")
def append_chunk(request: Request, name: Push, upload_id: str, registry: RegistryDep, chunk: ContentRange) -> Response:
    session = registry.uploads.append(name, upload_id, RequestBody(request), chunk)
    return _accepted(name, session, registry.uploads.max_chunk)


@router.put("/v2/{name:path}/blobs/uploads/{upload_id}")
@audited("blob.push")
def finish_upload(request: Request, name: Push, upload_id: str, registry: RegistryDep, chunk: ContentRange,
                  digest: str | None = None) -> Response:
    info = registry.uploads.finish(name, upload_id, digest, RequestBody(request), chunk)
    return _created(name, info)


@router.get("/v2/{name:path}/blobs/uploads/{upload_id}")
def upload_status(name: Push, upload_id: str, registry: RegistryDep) -> Response:
    return _accepted(name, registry.uploads.status(name, upload_id), registry.uploads.max_chunk, status=204)


@router.delete("/v2/{name:path}/blobs/uploads/{upload_id}")
def cancel_upload(name: Push, upload_id: str, registry: RegistryDep) -> Response:
    registry.uploads.cancel(name, upload_id)
    return Response(status_code=204)
