"""The web page under `/ui/`: server-rendered pages (Jinja2) over the registry layer, with the signed-in
key's rights. See `dockyard.ui.session` for sign-in and CSRF, `dockyard.ui.web` for the headers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse


def routers() -> list[APIRouter]:
    from dockyard.ui.account import account
    from dockyard.ui.pages import pages
    from dockyard.ui.sections import routers as section_routers
    from dockyard.errors import Err, RegistryError
    from dockyard.ui.web import PREFIX, PageRoute

    root = APIRouter(include_in_schema=False)

    @root.get("/")
    @root.get(PREFIX)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=302)

    fallback = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

    @fallback.api_route("/{rest:path}", methods=["GET", "POST"])
    def not_found(rest: str):
        raise RegistryError(Err.NOT_FOUND, "there is no such page")

    return [account, *section_routers(), pages, root, fallback]
