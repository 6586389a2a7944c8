"""Dependencies shared by the routes: the registry, and a validated repository name."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from dockyard.domain.names import validate_name
from dockyard.errors import Err, RegistryError
from dockyard.registry import Registry


def get_registry(request: Request) -> Registry:
    return request.app.state.registry()


def repository(name: str) -> str:
    return validate_name(name)


def content_length(value: Annotated[str | None, Header(alias="content-length")] = None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise RegistryError(Err.INVALID_PARAMETER, "Content-Length must be a non-negative integer")
    return int(value)


RegistryDep = Annotated[Registry, Depends(get_registry)]
Name = Annotated[str, Depends(repository)]
ContentLength = Annotated[int | None, Depends(content_length)]
