"""Listings: tags of a repository and the repository catalog, paginated with `n`, `last` and `Link`."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse

from dockyard.api import urls
from dockyard.api.access import Caller, Pull
from dockyard.api.deps import RegistryDep
from dockyard.storage.base import Page

router = APIRouter()
N = Annotated[int | None, Query()]


def _listing(body: dict, page: Page, path: str, n: int | None) -> JSONResponse:
    headers = {"Link": urls.next_link(path, n, page.last)} if page.last else {}
    return JSONResponse(body, headers=headers)


@router.get("/v2/_catalog")
def list_repositories(registry: RegistryDep, caller: Caller, n: N = None, last: str | None = None) -> JSONResponse:
    page = registry.manifests.catalog(n, last, caller.can_list if caller else None)
    return _listing({"repositories": page.items}, page, urls.CATALOG, n)


@router.get("/v2/{name:path}/tags/list")
def list_tags(name: Pull, registry: RegistryDep, n: N = None, last: str | None = None) -> JSONResponse:
    page = registry.manifests.tags(name, n, last)
    return _listing({"name": name, "tags": page.items}, page, urls.tags(name), n)
