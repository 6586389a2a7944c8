"""Blob reads: HEAD answers from metadata; GET redirects to a short-lived presigned S3 URL (or answers a small
blob a warm instance keeps, itself).

A warm instance answers a blob it knows from memory, in the event loop: `offload` moves the work to a worker
thread (under uvicorn) only when it needs a read from the table."""

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from dockyard.api.access import Delete, Pull
from dockyard.api.deps import RegistryDep, offload, registry_of
from dockyard.audit import audited
from dockyard.domain.ranges import check_range

router = APIRouter()


@router.head("/v2/{name:path}/blobs/{digest}")
async def check_blob(request: Request, name: Pull, digest: str) -> Response:
    info = await offload(request, registry_of(request).blobs.stat, name, digest)
    return Response(headers={"Content-Length": str(info.size), "Docker-Content-Digest": str(info.digest)},
                    media_type="application/octet-stream")


@router.get("/v2/{name:path}/blobs/{digest}")
async def get_blob(request: Request, name: Pull, digest: str,
                   range_: Annotated[str | None, Header(alias="range")] = None) -> Response:
    found = await offload(request, registry_of(request).blobs.locate, name, digest, range_ is None)
    check_range(range_, found.info.size)  # an invalid range: 416 here, not the whole blob from storage
    if found.data is not None:  # a small blob this instance keeps
        return Response(found.data, headers={"Docker-Content-Digest": str(found.info.digest)},
                        media_type="application/octet-stream")
    return Response(status_code=307, headers={"Location": found.url, "Docker-Content-Digest": str(found.info.digest)},
                    media_type="application/octet-stream")


@router.delete("/v2/{name:path}/blobs/{digest}")
@audited("blob.delete")
def delete_blob(name: Delete, digest: str, registry: RegistryDep) -> Response:
    registry.blobs.unlink(name, digest)
    return Response(status_code=202)
