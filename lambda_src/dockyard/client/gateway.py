"""`dockyard gateway`: a local registry endpoint that lands standard pushes of any size in a deployed
Dockyard. docker, skopeo, podman, crane, oras and BuildKit push to it as to any registry.

Blob uploads are answered by the registry's own upload routes (`dockyard.api.uploads`), over a spool
backend (`dockyard.client.spool`) that sends each blob straight to S3 with the push client. Mounts, and
everything else (manifests, tags, HEAD, blob GETs and their redirects, the token challenge), go to the
registry unchanged, streaming, with the client's own credentials. Memory stays at a few fixed buffers per
request, whatever the layer size.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from dockyard.api import uploads, urls
from dockyard.api.deps import get_registry
from dockyard.client.spool import Spools, SpoolUploads, relayed
from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.errors import install_error_handlers
from dockyard.registry.blobs import BlobInfo

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
# Set by the gateway's own HTTP server on every response: never copied from the registry's answer.
OWN_HEADERS = {"date", "server"}
# The gateway checks no access itself: the registry does, on every request the gateway makes for a client.
SETTINGS = Settings(auth=False)


class Gateway:
    def __init__(self, registry: str, spool_dir: str | None = None, part_size: int | None = None,
                 multipart_above: int | None = None):
        self.registry = registry.rstrip("/")
        self.spool_dir = Path(tempfile.mkdtemp(prefix="dockyard-gateway-", dir=spool_dir))
        self.part_size, self.multipart_above = part_size, multipart_above
        self.spools = Spools(self.spool_dir)
        self.forward = httpx.AsyncClient(base_url=self.registry, timeout=httpx.Timeout(600, connect=30),
                                         follow_redirects=False)
        self.sync = httpx.Client(timeout=httpx.Timeout(600, connect=30), follow_redirects=False)

    def close(self) -> None:
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.sync.close()

    def registry_for(self, request: Request) -> GatewayRegistry:
        """What the upload routes call, for this request and with its caller's credentials."""
        authorization = request.headers.get("authorization")
        return GatewayRegistry(SETTINGS, SpoolUploads(self, authorization, request.headers.get("content-length")),
                               Mounts(self.sync, self.registry, authorization))

    async def proxy(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        length = request.headers.get("content-length")
        content = request.stream() if (length and length != "0") or "transfer-encoding" in request.headers else None
        outgoing = self.forward.build_request(request.method, request.url.path, params=request.query_params,
                                              headers=headers, content=content)
        answer = await self.forward.send(outgoing, stream=True)
        dropped = (HOP_BY_HOP - {"content-length"}) | OWN_HEADERS
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                 headers={k: v for k, v in answer.headers.items() if k.lower() not in dropped},
                                 background=BackgroundTask(answer.aclose))


class Mounts:
    """Cross-repository mounts, which only the registry can make."""

    def __init__(self, http: httpx.Client, registry: str, authorization: str | None):
        self.http, self.registry = http, registry
        self.headers = {"Authorization": authorization} if authorization else {}

    def mount(self, repo: str, digest: str, source: str | None) -> BlobInfo | None:
        """The registry's mount; None when it opened an upload instead (closed again: the gateway takes
        the bytes)."""
        params = {"mount": digest, **({"from": source} if source is not None else {})}
        answer = self.http.post(self.registry + urls.upload(repo, ""), params=params, headers=self.headers)
        if answer.status_code == 201:
            return BlobInfo(Digest.parse(answer.headers.get("docker-content-digest", digest)), None)
        if answer.status_code != 202:
            raise relayed(answer)
        location = answer.headers.get("location")
        if location:
            self.http.delete(self.registry + location if location.startswith("/") else location, headers=self.headers)
        return None


class NoCachePrefixes:
    """The gateway refuses no push itself: the registry behind it refuses pushes into a cache prefix."""

    @staticmethod
    def is_cache(name: str) -> bool:
        return False


@dataclass(frozen=True)
class GatewayRegistry:
    """The part of `dockyard.registry.Registry` that the upload routes use."""

    settings: Settings
    uploads: SpoolUploads
    blobs: Mounts
    upstreams: NoCachePrefixes = NoCachePrefixes()


def create_gateway(registry: str | None = None, **options) -> FastAPI:
    """The gateway app; `registry` defaults to $DOCKYARD_GATEWAY_REGISTRY (for uvicorn's factory mode)."""
    gateway = Gateway(registry or os.environ["DOCKYARD_GATEWAY_REGISTRY"], **options)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await gateway.forward.aclose()
        gateway.close()

    app = FastAPI(title="Dockyard gateway", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.gateway = gateway
    install_error_handlers(app)
    app.dependency_overrides[get_registry] = gateway.registry_for
    app.include_router(uploads.router)
    app.add_api_route("/{path:path}", gateway.proxy, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    return app
