"""`GET /v2/`: the API version check."""

from fastapi import APIRouter
from starlette.responses import Response

from dockyard.api.access import Caller
from dockyard.audit import handshake

router = APIRouter()


@router.api_route("/v2/", methods=["GET", "HEAD"])
@router.api_route("/v2", methods=["GET", "HEAD"], include_in_schema=False)
@handshake
async def check_version(caller: Caller) -> Response:
    """200 for any authenticated caller (and anyone, with auth off); else the 401 that starts the token flow.
    A coroutine: it needs no worker thread, so it answers even while every thread waits on a backend."""
    return Response(content=b"{}", media_type="application/json")
