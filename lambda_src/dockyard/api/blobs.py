"""Blob reads: HEAD answers from metadata; GET redirects to a short-lived presigned S3 URL (or answers a small
blob a warm instance keeps, itself).

A warm instance answers a blob it knows from memory, in the event loop: `offload` moves the work to a worker
thread (under uvicorn) only when it needs a read from the table."""

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard.api.access import Delete, pull_access
from dockyard.api.deps import RegistryDep, offload, registry_of
from dockyard.audit import audited
from dockyard.domain.ranges import check_range

router = APIRouter()


async def check_blob(request: Request) -> Response:
    name, digest = await _pulled(request)
    info = await offload(request, registry_of(request).blobs.stat, name, digest)
    return Response(headers={"Content-Length": str(info.size), "Docker-Content-Digest": str(info.digest)},
                    media_type="application/octet-stream")


async def get_blob(request: Request) -> Response:
    name, digest = await _pulled(request)
    range_ = request.headers.get("range")
    found = await offload(request, registry_of(request).blobs.locate, name, digest, range_ is None)
    check_range(range_, found.info.size)  # an invalid range: 416 here, not the whole blob from storage
    if found.data is not None:  # a small blob this instance keeps
        return Response(found.data, headers={"Docker-Content-Digest": str(found.info.digest)},
                        media_type="application/octet-stream")
    return Response(status_code=307, headers={"Location": found.url, "Docker-Content-Digest": str(found.info.digest)},
                    media_type="application/octet-stream")


async def _pulled(request: Request) -> tuple[str, str]:
    """The repository (once the caller may pull from it) and the digest of the path."""
    params = request.path_params
    return await pull_access(request, params["name"]), params["digest"]


# The two requests of a pull made most often, as plain Starlette routes: FastAPI's per-request resolution of
# parameters and dependencies was half of their handler time (`benchmarks/handler_time.py`).
router.routes += [Route("/v2/{name:path}/blobs/{digest}", check_blob, methods=["HEAD"], include_in_schema=False),
                  Route("/v2/{name:path}/blobs/{digest}", get_blob, methods=["GET"], include_in_schema=False)]


@router.delete("/v2/{name:path}/blobs/{digest}")
@audited("blob.delete")
def delete_blob(name: Delete, digest: str, registry: RegistryDep) -> Response:
    registry.blobs.unlink(name, digest)
    return Response(status_code=202)
