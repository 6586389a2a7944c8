"""Manifests: GET and HEAD return the exact stored bytes; PUT validates and stores."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from dockyard.api import urls
from dockyard.api.body import RequestBody
from dockyard.api.access import Delete, Pull, Push
from dockyard.api.deps import RegistryDep, offload, registry_of
from dockyard.audit import audited
from dockyard.domain.manifest import MAX_MANIFEST_SIZE

router = APIRouter()


@router.head("/v2/{name:path}/manifests/{reference}")
async def check_manifest(request: Request, name: Pull, reference: str) -> Response:
    record = await offload(request, registry_of(request).manifests.get, name, reference, False)
    return Response(media_type=record.media_type, headers={
        "Content-Length": str(record.size), "Docker-Content-Digest": str(record.digest)})


@router.get("/v2/{name:path}/manifests/{reference}")
@audited("manifest.pull", read=True)  # a HEAD only asks whether a tag moved: not a pull
async def get_manifest(request: Request, name: Pull, reference: str) -> Response:
    record = await offload(request, registry_of(request).manifests.get, name, reference)
    return Response(content=record.body, media_type=record.media_type,
                    headers={"Docker-Content-Digest": str(record.digest)})


@router.put("/v2/{name:path}/manifests/{reference}")
@audited("manifest.push")
def put_manifest(request: Request, name: Push, reference: str, registry: RegistryDep,
                 content_type: Annotated[str | None, Header(alias="content-type")] = None,
                 tag: Annotated[list[str], Query()] = ()) -> Response:
    body = RequestBody(request).read(MAX_MANIFEST_SIZE + 1)
    manifest, tags = registry.manifests.put(name, reference, body, content_type, tag)
    headers = {"Location": urls.manifest(name, manifest.digest), "Docker-Content-Digest": str(manifest.digest)}
    if manifest.subject is not None:
        headers["OCI-Subject"] = str(manifest.subject.digest)
    if tag:  # the tags a push by digest named, once each (a tag never holds a comma)
        headers["OCI-Tag"] = ", ".join(tags)
    return Response(status_code=201, headers=headers)


@router.delete("/v2/{name:path}/manifests/{reference}")
@audited("manifest.delete")
def delete_manifest(name: Delete, reference: str, registry: RegistryDep) -> Response:
    registry.manifests.delete(name, reference)
    return Response(status_code=202)
