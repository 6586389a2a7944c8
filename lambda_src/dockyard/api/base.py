"""`GET /v2/`: the API version check."""

from fastapi import APIRouter
from starlette.responses import Response

router = APIRouter()


@router.api_route("/v2/", methods=["GET", "HEAD"])
@router.api_route("/v2", methods=["GET", "HEAD"], include_in_schema=False)
def check_version() -> Response:
    return Response(content=b"{}", media_type="application/json")
