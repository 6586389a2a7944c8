"""The token endpoint of the Docker registry token flow: GET with Basic credentials (docker, skopeo,
podman), POST with the OAuth2 form (containerd, docker's refresh tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from dockyard.api.deps import RegistryDep, offload, read_form
from dockyard.auth.header import Authorization, credentials
from dockyard.errors import Err, RegistryError

router = APIRouter()
NO_CACHE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _enabled(registry) -> None:
    if not registry.settings.auth:
        raise RegistryError(Err.NOT_FOUND, "this registry runs without access control: no tokens are needed")


@router.get("/token")
async def get_token(request: Request, registry: RegistryDep) -> JSONResponse:
    _enabled(registry)
    given = Authorization.parse(request.headers.get("authorization"))
    if given is not None and (given.scheme != "basic" or not given.value):
        raise RegistryError(Err.UNAUTHORIZED, "the token endpoint takes Basic credentials")
    offline = request.query_params.get("offline_token", "").lower() == "true"
    answer = await offload(request, registry.auth.issue_token, given.basic() if given else None, None,
                           request.query_params.getlist("scope"), offline)
    return JSONResponse(answer, headers=NO_CACHE)


@router.post("/token")
async def post_token(request: Request, registry: RegistryDep) -> JSONResponse:
    _enabled(registry)
    form = {key: values[-1] for key, values in (await read_form(request)).items()}
    grant = form.get("grant_type")
    scopes = form.get("scope", "").split(" ")
    offline = form.get("access_type") == "offline"
    if grant == "password":
        key = credentials(form.get("username", ""), form.get("password", ""))
        answer = await offload(request, registry.auth.issue_token, key, None, [" ".join(scopes)], offline)
    elif grant == "refresh_token":
        if not form.get("refresh_token"):
            raise RegistryError(Err.UNAUTHORIZED, "refresh_token is required")
        answer = await offload(request, registry.auth.issue_token, None, form["refresh_token"], [" ".join(scopes)],
                               True)
    else:
        raise RegistryError(Err.INVALID_PARAMETER, "grant_type must be password or refresh_token")
    answer["scope"] = " ".join(scopes)
    return JSONResponse(answer, headers=NO_CACHE)
