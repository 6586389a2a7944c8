"""Dependencies of the pages: the viewer, and the checked form of a state change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dockyard.api.deps import RegistryDep
from dockyard.ui.session import Viewer, check_state_change, current_viewer, read_form
from dockyard.ui.web import PREFIX, PageRoute, SignInNeeded


def router() -> APIRouter:
    return APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


def _viewer(request: Request, registry: RegistryDep) -> Viewer:
    return current_viewer(request, registry)


def _browser(viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
    """A viewer who can see something: signed in, or anonymous where some repositories are public."""
    if not viewer.open and not viewer.signed_in and not viewer.anonymous.rules:
        raise SignInNeeded()
    return viewer


async def _form(request: Request) -> dict[str, str]:
    return await read_form(request)


def _checked(request: Request, registry: RegistryDep, viewer: Annotated[Viewer, Depends(_viewer)],
             form: Annotated[dict, Depends(_form)]) -> dict[str, str]:
    check_state_change(request, registry, form, viewer)
    return form


AnyViewer = Annotated[Viewer, Depends(_viewer)]
Browser = Annotated[Viewer, Depends(_browser)]
Form = Annotated[dict, Depends(_checked)]
