"""Route dependencies that authenticate the caller and check the scope each route needs.

A refusal is a 401 with the Docker token challenge (`WWW-Authenticate: Bearer realm=...,service=...,
scope=...`), or a 403 `DENIED` for valid credentials that do not allow the action.

The dependencies are coroutines that run the check on the event loop when it needs no backend call (no
credentials, a Bearer token, Basic credentials this instance verified lately), and in a worker thread
otherwise (`dockyard.blocking`), so that the challenge never queues behind requests stuck on a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from dockyard.api.deps import RegistryDep, registry_of
from dockyard.api.public import public_base
from dockyard.auth.scopes import challenge_scope
from dockyard.auth.service import Principal
from dockyard.blocking import offload
from dockyard.domain.names import validate_name
from dockyard.errors import Err, RegistryError
from dockyard.registry import Registry

# The actions a client should ask the token endpoint for, per route action.
CHALLENGE_ACTIONS = {"pull": ("pull",), "push": ("pull", "push"), "delete": ("delete",)}
CATALOG = "catalog"  # the action of `GET /v2/_catalog`
CATALOG_SCOPE = "registry:catalog:*"


def _challenge(request: Request, registry: Registry, scopes: list[str], error: str | None) -> str:
    """As distribution writes it: every scope the request needs, space-separated, in one `scope`."""
    realm = public_base(request, registry.settings) + "/token"
    parts = [f'realm="{realm}"', f'service="{registry.settings.service}"']
    if scopes:
        parts.append(f'scope="{" ".join(scopes)}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


def _scopes(name: str | None, action: str | None, also: tuple[str, ...] = ()) -> list[str]:
    if action == CATALOG:
        return [CATALOG_SCOPE, *also]
    return ([challenge_scope(name, CHALLENGE_ACTIONS[action])] if name else []) + list(also)


async def check_access(request: Request, registry: Registry, name: str | None, action: str | None,
                       also: tuple[str, ...] = ()) -> Principal | None:
    """Authenticate, then authorize `action` on `name` (the catalog for CATALOG; with neither, just require
    a caller). `also` are more scopes the 401 challenge names (a mount's source)."""
    if not registry.settings.auth:
        return None
    return await offload(request, _check_access, request, registry, name, action, also)


def _check_access(request: Request, registry: Registry, name: str | None, action: str | None,
                  also: tuple[str, ...]) -> Principal | None:
    header = request.headers.get("authorization")
    try:
        principal = registry.auth.authenticate(header)
        request.state.principal = principal.subject if principal else None
        request.state.caller = principal
        if action == CATALOG:
            registry.auth.authorize_catalog(principal)
        elif name is None:
            if principal is None:
                raise RegistryError(Err.UNAUTHORIZED, "credentials are required")
        else:
            registry.auth.authorize(principal, name, action)
        return principal
    except RegistryError as exc:
        if exc.err.status == 401:
            error = "insufficient_scope" if exc.err is Err.INSUFFICIENT_SCOPE else "invalid_token" if header else None
            exc.headers["WWW-Authenticate"] = _challenge(request, registry, _scopes(name, action, also), error)
        raise


def _mount_source(request: Request) -> str | None:
    """The `from` of a cross-repository mount (`?mount=<digest>&from=<repository>`), if well formed."""
    source = request.query_params.get("from")
    if not request.query_params.get("mount") or not source:
        return None
    try:
        validate_name(source)
    except RegistryError:
        return None
    return source


def _repository(action: str, mounting: bool = False):
    async def dependency(request: Request, name: str) -> str:
        registry = registry_of(request)
        validate_name(name)
        source = _mount_source(request) if mounting else None
        # A mount's challenge names its source too, so that one token serves both (as distribution does).
        also = (challenge_scope(source, ("pull",)),) if source and source != name else ()
        await check_access(request, registry, name, action, also)
        if action == "push" and await offload(request, registry.upstreams.is_cache, name):
            raise RegistryError(Err.DENIED, f"{name} is a pull-through cache of upstream {name.split('/')[0]}: "
                                            "nobody can push into it")
        return name

    return dependency


async def _caller(request: Request, registry: RegistryDep) -> Principal | None:
    return await check_access(request, registry, None, None)


async def _catalog(request: Request, registry: RegistryDep) -> Principal | None:
    return await check_access(request, registry, None, CATALOG)


async def _admin(request: Request, registry: RegistryDep) -> Principal | None:
    principal = await check_access(request, registry, None, None)
    if principal is not None and not principal.is_admin:
        raise RegistryError(Err.DENIED, f"{principal.subject} is not an admin")
    return principal


@dataclass(frozen=True)
class MountFrom:
    """Where a cross-repository mount may take the blob from: `source`, or (None) any repository."""

    allowed: bool
    source: str | None = None


async def _mount_from(request: Request, name: str, registry: RegistryDep,
                      source: Annotated[str | None, Query(alias="from")] = None) -> MountFrom:
    """A mount needs pull on its source; without `from`, it may use any copy only where that reveals
    nothing: with access control off, or for an admin. Otherwise the client uploads (202), as the spec
    allows. A token that lacks pull on the source, held by a key that would be granted it, gets the 401
    challenge for both repositories instead, so that token clients (which follow challenges) really mount."""
    if source is None:
        caller = getattr(request.state, "caller", None)
        return MountFrom(not registry.settings.auth or bool(caller and caller.is_admin))
    validate_name(source)
    try:
        await check_access(request, registry, source, "pull")
    except RegistryError as exc:
        caller = getattr(request.state, "caller", None)
        if exc.err is Err.INSUFFICIENT_SCOPE and caller is not None and await offload(
                request, registry.auth.could_grant, caller.subject, source, "pull"):
            scopes = _scopes(name, "push", (challenge_scope(source, ("pull",)),))
            exc.headers["WWW-Authenticate"] = _challenge(request, registry, scopes, "insufficient_scope")
            raise
        return MountFrom(False)
    return MountFrom(True, source)


pull_access = _repository("pull")  # called by the plain routes of blob reads (`api.blobs`)
Pull = Annotated[str, Depends(pull_access)]
Push = Annotated[str, Depends(_repository("push"))]
PushOrMount = Annotated[str, Depends(_repository("push", mounting=True))]
Delete = Annotated[str, Depends(_repository("delete"))]
Caller = Annotated[Principal | None, Depends(_caller)]
CatalogCaller = Annotated[Principal | None, Depends(_catalog)]
Admin = Annotated[Principal | None, Depends(_admin)]
Mount = Annotated[MountFrom, Depends(_mount_from)]
