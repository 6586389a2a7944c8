"""Dependencies shared by the routes: the registry, request headers, small JSON and form bodies, and
`offload` for the blocking calls of async routes.

The routes of a pull (and every dependency) are `async def`: FastAPI would run a plain `def` in a worker
thread, one hop per dependency and one for the route. What may block (boto3) goes through `offload`."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Header, Request

from dockyard.blocking import offload  # noqa: F401 (the routes take it from here)
from dockyard.domain.ranges import Chunk
from dockyard.errors import Err, RegistryError
from dockyard.registry import Registry


def registry_of(request: Request) -> Registry:
    """The app's registry, built on first use (objects only, no AWS call). The routes of a pull take it here
    rather than as a dependency: each dependency costs FastAPI a resolution of its own on every request. An
    app that overrides `get_registry` (the gateway: a registry per request) is honoured here too."""
    override = request.app.dependency_overrides.get(get_registry)
    return override(request) if override is not None else request.app.state.registry()


async def get_registry(request: Request) -> Registry:
    """A coroutine, as every dependency that needs no backend: no worker thread (see `dockyard.blocking`)."""
    return registry_of(request)


async def content_length(value: Annotated[str | None, Header(alias="content-length")] = None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise RegistryError(Err.INVALID_PARAMETER, "Content-Length must be a non-negative integer")
    return int(value)


def content_range(length: Annotated[int | None, Depends(content_length)],
                  value: Annotated[str | None, Header(alias="content-range")] = None) -> Chunk | None:
    """The byte range an upload chunk claims, checked against its Content-Length (None: append)."""
    return Chunk.parse(value, length)


def read_json(request: Request, limit: int = 64 * 1024) -> dict:
    """A small JSON object body (admin API)."""
    from dockyard.api.body import RequestBody

    raw = RequestBody(request).read(limit + 1)
    try:
        data = json.loads(raw) if len(raw) <= limit else None
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise RegistryError(Err.INVALID_PARAMETER, f"the body must be a JSON object of at most {limit} bytes")
    return data


async def read_form(request: Request, limit: int = 64 * 1024) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body (the OAuth2 token request), read on the event loop."""
    from dockyard.api.body import RequestBody

    raw = await RequestBody(request).read_async(limit + 1)
    if len(raw) > limit:
        raise RegistryError(Err.INVALID_PARAMETER, "the form is too large")
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=False)


RegistryDep = Annotated[Registry, Depends(get_registry)]
ContentRange = Annotated[Chunk | None, Depends(content_range)]
