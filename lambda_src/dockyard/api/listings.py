"""Listings: tags, the repository catalog and referrers, paginated with `n`, `last` and `Link`."""

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from dockyard.api import urls
from dockyard.api.access import CatalogCaller, Pull
from dockyard.api.deps import RegistryDep
from dockyard.domain.mediatypes import OCI_INDEX

router = APIRouter()
N = Annotated[int | None, Query()]


def _listing(body: dict, last: str | None, path: str, n: int | None) -> JSONResponse:
    headers = {"Link": urls.next_link(path, n, last)} if last else {}
    return JSONResponse(body, headers=headers)


@router.get("/v2/_catalog")
def list_repositories(registry: RegistryDep, caller: CatalogCaller, n: N = None,
                      last: str | None = None) -> JSONResponse:
    page = registry.manifests.catalog(n, last, registry.auth.catalog_filter(caller))
    return _listing({"repositories": page.items}, page.last, urls.CATALOG, n)


@router.get("/v2/{name:path}/referrers/{digest}")
def list_referrers(name: Pull, digest: str, registry: RegistryDep, n: N = None, last: str | None = None,
                   artifact_type: Annotated[str | None, Query(alias="artifactType")] = None) -> Response:
    index, more = registry.manifests.referrers(name, digest, artifact_type, n, last)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    if more:
        query = {k: v for k, v in (("n", n), ("last", more), ("artifactType", artifact_type)) if v is not None}
        headers["Link"] = f'<{urls.referrers(name, digest)}?{urlencode(query)}>; rel="next"'
    return Response(json.dumps(index).encode(), media_type=OCI_INDEX, headers=headers)


@router.get("/v2/{name:path}/tags/list")
def list_tags(name: Pull, registry: RegistryDep, n: N = None, last: str | None = None) -> JSONResponse:
    page = registry.manifests.tags(name, n, last)
    return _listing({"name": name, "tags": page.items}, page.last, urls.tags(name), n)
