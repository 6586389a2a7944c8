"""`dockyard gateway`: a local registry endpoint that lands standard pushes of any size in a deployed
Dockyard. docker, skopeo, podman, crane, oras and BuildKit push to it as to any registry.

- A blob that arrives whole with its digest and length named up front (containerd, oras, BuildKit: a PUT
  or POST with `?digest=`) streams straight to S3 in one PUT that S3 checks against the SHA-256.
- A blob sent in PATCHes (docker, skopeo, podman, crane) is hashed as it arrives and spooled to a local
  file, since its digest comes only at the end; then it goes to S3 through the direct-upload API, in one
  checked PUT or parallel parts. Either way no layer byte passes through the registry's function.
- Everything else (manifests, tags, HEAD, blob GETs and their redirects, the token challenge) is forwarded
  to the registry unchanged, streaming, with the client's own credentials.

Memory stays at a few fixed buffers per request, whatever the layer size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse

from dockyard.client.http import RegistryClient, RegistryError
from dockyard.client.progress import Progress
from dockyard.client.push import Pusher
from dockyard.client.source import Blob

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,15})-(\d{1,15})")
UPLOAD_PATH = re.compile(r"/v2/(?P<name>.+)/blobs/uploads/?(?P<id>[^/]*)\Z")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status, headers=headers)


SPOOL_IDLE_SECONDS = 3600  # an upload untouched this long is abandoned (clients seldom send DELETE)


@dataclass
class Spool:
    """An upload being received: bytes on disk, SHA-256 as they came."""

    name: str
    path: Path
    size: int = 0
    hasher: object = field(default_factory=hashlib.sha256)
    touched: float = field(default_factory=time.monotonic)


class Gateway:
    def __init__(self, registry: str, spool_dir: str | None = None, part_size: int | None = None,
                 multipart_above: int | None = None):
        self.registry = registry.rstrip("/")
        self.spool_dir = Path(tempfile.mkdtemp(prefix="dockyard-gateway-", dir=spool_dir))
        self.part_size, self.multipart_above = part_size, multipart_above
        self.spools: dict[str, Spool] = {}
        self.forward = httpx.AsyncClient(base_url=self.registry, timeout=httpx.Timeout(600, connect=30),
                                         follow_redirects=False)
        self.sync = httpx.Client(timeout=httpx.Timeout(600, connect=30), follow_redirects=False)

    def close(self) -> None:
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.sync.close()

    # --- uploads ----------------------------------------------------------------------------------------

    async def start(self, request: Request, name: str) -> Response:
        if "mount" in request.query_params:
            answer = await self._send(request)
            if answer.status_code != 202:
                return await self._relay(answer)
            location = answer.headers.get("location")
            await answer.aclose()
            if location:
                await self.forward.delete(location, headers=_auth(request))  # the registry's session: not ours
        self._sweep()
        upload_id = str(uuid.uuid4())
        spool = Spool(name, self.spool_dir / upload_id)
        spool.path.touch()
        self.spools[upload_id] = spool
        if "digest" in request.query_params:
            streamed = await self._stream(request, name, upload_id)
            if streamed is not None:
                return streamed
            await self._receive(request, spool, None)
            return await self._finish(request, upload_id, spool)
        return self._accepted(name, upload_id, spool, 202)

    async def append(self, request: Request, name: str, upload_id: str) -> Response:
        spool = self._spool(name, upload_id)
        if spool is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        refused = await self._receive(request, spool, request.headers.get("content-range"))
        return refused or self._accepted(name, upload_id, spool, 202)

    async def finish(self, request: Request, name: str, upload_id: str) -> Response:
        spool = self._spool(name, upload_id)
        if spool is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        if spool.size == 0:
            streamed = await self._stream(request, name, upload_id)
            if streamed is not None:
                return streamed
        refused = await self._receive(request, spool, request.headers.get("content-range"))
        return refused or await self._finish(request, upload_id, spool)

    def status(self, name: str, upload_id: str) -> Response:
        spool = self._spool(name, upload_id)
        if spool is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        return self._accepted(name, upload_id, spool, 204)

    def cancel(self, name: str, upload_id: str) -> Response:
        spool = self._spool(name, upload_id)
        if spool is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        self._drop(upload_id)
        return Response(status_code=204)

    def _spool(self, name: str, upload_id: str) -> Spool | None:
        spool = self.spools.get(upload_id)
        if spool is None or spool.name != name:
            return None
        spool.touched = time.monotonic()
        return spool

    def _sweep(self) -> None:
        idle = time.monotonic() - SPOOL_IDLE_SECONDS
        for upload_id in [i for i, spool in self.spools.items() if spool.touched < idle]:
            self._drop(upload_id)

    def _drop(self, upload_id: str) -> None:
        spool = self.spools.pop(upload_id, None)
        if spool is not None:
            spool.path.unlink(missing_ok=True)

    @staticmethod
    def _accepted(name: str, upload_id: str, spool: Spool, status: int) -> Response:
        return Response(status_code=status, headers={
            "Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Range": f"0-{max(spool.size - 1, 0)}",
            "Docker-Upload-UUID": upload_id})

    async def _receive(self, request: Request, spool: Spool, content_range: str | None) -> Response | None:
        """Append the request body to the spool, hashing it; a chunk not at the current end gets 416."""
        if content_range:
            match = _RANGE.match(content_range.strip())
            if not match or int(match[1]) != spool.size:
                return _error(416, "BLOB_UPLOAD_INVALID", "chunk does not start at the current upload offset",
                              {"Range": f"0-{max(spool.size - 1, 0)}"})
        async with await anyio.open_file(spool.path, "ab") as out:
            async for chunk in request.stream():
                if chunk:
                    await out.write(chunk)
                    spool.hasher.update(chunk)
                    spool.size += len(chunk)
        return None

    async def _finish(self, request: Request, upload_id: str, spool: Spool) -> Response:
        digest = request.query_params.get("digest", "")
        actual = "sha256:" + spool.hasher.hexdigest()
        if digest != actual:
            self._drop(upload_id)
            return _error(400, "DIGEST_INVALID", f"digest of the uploaded content is {actual}")
        try:
            await anyio.to_thread.run_sync(self._upload, request, spool, digest)
        except RegistryError as exc:
            if exc.response is not None and exc.response.status_code in (401, 403):  # the client re-authenticates
                return await self._relay_error(exc.response)
            self._drop(upload_id)
            return _error(502, "UNKNOWN", f"the registry refused the blob: {exc}")
        except Exception as exc:  # noqa: BLE001 - whatever broke, the spool must not outlive the request
            self._drop(upload_id)
            return _error(502, "UNKNOWN", f"sending the blob to the registry failed: {exc}")
        self._drop(upload_id)
        return Response(status_code=201, headers={"Location": f"/v2/{spool.name}/blobs/{digest}",
                                                  "Docker-Content-Digest": digest})

    async def _stream(self, request: Request, name: str, upload_id: str) -> Response | None:
        """Send a whole blob whose digest and length are known now straight to S3, spooling nothing.
        None when that cannot be done (no length, a chunk, a blob for parts): the caller spools instead."""
        digest, length = request.query_params.get("digest", ""), request.headers.get("content-length", "")
        if not length.isdigit() or int(length) == 0 or "content-range" in request.headers:
            return None
        client = RegistryClient(self.registry, http=self.sync, authorization=request.headers.get("authorization"))
        scope = f"repository:{name}:pull,push"
        try:
            plan = await anyio.to_thread.run_sync(lambda: client.request(
                "POST", f"/dockyard/v1/direct/{name}/blobs", scope=scope,
                json={"digest": digest, "size": int(length)}).json())
            if plan.get("method") == "multipart":
                return None
            if plan["status"] == "upload":
                stored = await self.forward.put(plan["url"], content=request.stream(), headers=plan["headers"])
                if stored.status_code != 200:
                    self._drop(upload_id)
                    return _error(400, "DIGEST_INVALID", f"storage refused the bytes: {stored.status_code}")
                await anyio.to_thread.run_sync(lambda: client.request(
                    "POST", f"/dockyard/v1/direct/{name}/blobs/{plan['upload']}/complete", scope=scope, ok=(201,)))
            else:
                async for _ in request.stream():  # already there: read the body the client sends anyway
                    pass
        except RegistryError as exc:
            self._drop(upload_id)
            if exc.response is not None and exc.response.status_code in (400, 401, 403):
                return await self._relay_error(exc.response)
            return _error(502, "UNKNOWN", f"the registry refused the blob: {exc}")
        self._drop(upload_id)
        return Response(status_code=201, headers={"Location": f"/v2/{name}/blobs/{digest}",
                                                  "Docker-Content-Digest": digest})

    def _upload(self, request: Request, spool: Spool, digest: str) -> None:
        """Send the spooled blob straight to S3 through the direct-upload API (in a worker thread)."""
        client = RegistryClient(self.registry, http=self.sync, authorization=request.headers.get("authorization"))
        blob = Blob(digest, spool.size, lambda: spool.path.open("rb"))
        pusher = Pusher(client, spool.name, Progress(spool.size, tty=False, stream=_Quiet()),
                        multipart_above=self.multipart_above, part_size=self.part_size)
        try:
            pusher.push_blob(blob)
        finally:
            pusher.close()

    # --- everything else is forwarded -------------------------------------------------------------------

    async def proxy(self, request: Request) -> Response:
        return await self._relay(await self._send(request))

    async def _send(self, request: Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        length = request.headers.get("content-length")
        content = request.stream() if (length and length != "0") or "transfer-encoding" in request.headers else None
        outgoing = self.forward.build_request(request.method, request.url.path, params=request.query_params,
                                              headers=headers, content=content)
        return await self.forward.send(outgoing, stream=True)

    async def _relay(self, answer: httpx.Response) -> Response:
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP - {"content-length"}}
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=headers,
                                 background=BackgroundTask(answer.aclose))

    @staticmethod
    async def _relay_error(response: httpx.Response) -> Response:
        headers = {k: v for k, v in response.headers.items() if k.lower() in ("www-authenticate", "content-type")}
        return Response(response.content, status_code=response.status_code, headers=headers)


class _Quiet:
    def write(self, _):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False


def _auth(request: Request) -> dict:
    value = request.headers.get("authorization")
    return {"Authorization": value} if value else {}


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

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def route(request: Request, path: str) -> Response:
        match = UPLOAD_PATH.match(request.url.path)
        if match is None:
            return await gateway.proxy(request)
        name, upload_id, method = match["name"], match["id"], request.method
        if not upload_id:
            return await gateway.start(request, name) if method == "POST" else await gateway.proxy(request)
        handler = {"PATCH": gateway.append, "PUT": gateway.finish}.get(method)
        if handler:
            return await handler(request, name, upload_id)
        if method == "GET":
            return gateway.status(name, upload_id)
        if method == "DELETE":
            return gateway.cancel(name, upload_id)
        return await gateway.proxy(request)

    return app
