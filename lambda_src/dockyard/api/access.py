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

from dockyard.api.deps import RegistryDep
from dockyard.auth.scopes import challenge_scope
from dockyard.auth.service import Principal
from dockyard.blocking import without_blocking
from dockyard.domain.names import validate_name
from dockyard.errors import Err, RegistryError
from dockyard.registry import Registry

# The actions a client should ask the token endpoint for, per route action.
CHALLENGE_ACTIONS = {"pull": ("pull",), "push": ("pull", "push"), "delete": ("delete",)}


def base_url(request: Request) -> str:
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return f"{scheme}://{request.headers.get('host') or request.url.netloc}"


def _challenge(request: Request, registry: Registry, scope: str | None, error: str | None) -> str:
    realm = (registry.settings.public_url or base_url(request)).rstrip("/") + "/token"
    parts = [f'realm="{realm}"', f'service="{registry.settings.service}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


async def check_access(request: Request, registry: Registry, name: str | None,
                       action: str | None) -> Principal | None:
    """Authenticate, then authorize `action` on `name` (or, with no name, just require a caller)."""
    if not registry.settings.auth:
        return None
    return await without_blocking(_check_access, request, registry, name, action)


def _check_access(request: Request, registry: Registry, name: str | None, action: str | None) -> Principal | None:
    header = request.headers.get("authorization")
    try:
        principal = registry.auth.authenticate(header)
        request.state.principal = principal.subject if principal else None
        request.state.caller = principal
        if name is None:
            if principal is None:
                raise RegistryError(Err.UNAUTHORIZED, "credentials are required")
        else:
            registry.auth.authorize(principal, name, action)
        return principal
    except RegistryError as exc:
        if exc.err.status == 401:
            scope = challenge_scope(name, CHALLENGE_ACTIONS[action]) if name else None
            error = "insufficient_scope" if exc.err is Err.INSUFFICIENT_SCOPE else "invalid_token" if header else None
            exc.headers["WWW-Authenticate"] = _challenge(request, registry, scope, error)
        raise


def _repository(action: str):
    async def dependency(request: Request, name: str, registry: RegistryDep) -> str:
        validate_name(name)
        await check_access(request, registry, name, action)
        if action == "push" and await without_blocking(registry.upstreams.is_cache, name):
            raise RegistryError(Err.DENIED, f"{name} is a pull-through cache of upstream {name.split('/')[0]}: "
                                            "nobody can push into it")
        return name

    return dependency


async def _caller(request: Request, registry: RegistryDep) -> Principal | None:
    return await check_access(request, registry, None, None)


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


async def _mount_from(request: Request, registry: RegistryDep,
                      source: Annotated[str | None, Query(alias="from")] = None) -> MountFrom:
    """A mount needs pull on its source; without `from`, it may use any copy only where that reveals
    nothing: with access control off, or for an admin. Otherwise the client uploads (202), as the spec
    allows."""
    if source is None:
        caller = getattr(request.state, "caller", None)
        return MountFrom(not registry.settings.auth or bool(caller and caller.is_admin))
    validate_name(source)
    try:
        await check_access(request, registry, source, "pull")
    except RegistryError:
        return MountFrom(False)
    return MountFrom(True, source)


Pull = Annotated[str, Depends(_repository("pull"))]
Push = Annotated[str, Depends(_repository("push"))]
Delete = Annotated[str, Depends(_repository("delete"))]
Caller = Annotated[Principal | None, Depends(_caller)]
Admin = Annotated[Principal | None, Depends(_admin)]
Mount = Annotated[MountFrom, Depends(_mount_from)]
