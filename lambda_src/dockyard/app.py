"""The FastAPI application: `create_app()` is the registry, whatever hosts it (Lambda, uvicorn)."""

from __future__ import annotations

import functools
import threading

from fastapi import FastAPI

from dockyard.api import base, blobs, listings, manifests, token, uploads
from dockyard.audit import AuditLog
from dockyard.config import Settings
from dockyard.errors import install_error_handlers
from dockyard.limits import BodyLimit
from dockyard.origin import OriginCheck
from dockyard.registry import Registry

API_VERSION_HEADER = (b"docker-distribution-api-version", b"registry/2.0")
# Bodyless answers (201, 202, 204, 307) name a type too, so that every host sends the same headers: Mangum
# would otherwise add `application/json` to them in Lambda, while uvicorn sends none.
DEFAULT_CONTENT_TYPE = (b"content-type", b"application/octet-stream")


class RegistryHeaders:
    """Adds `Docker-Distribution-API-Version: registry/2.0` to every response, and a Content-Type where a
    response has none (a plain ASGI middleware: no buffering)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), API_VERSION_HEADER]
                if not any(name.lower() == b"content-type" for name, _ in headers):
                    headers.append(DEFAULT_CONTENT_TYPE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _lazy_registry(settings, registry: Registry | None):
    """A provider that builds the registry (and its AWS clients) on the first request that needs it, once."""
    lock = threading.Lock()
    built: list[Registry] = [registry] if registry is not None else []

    def provide() -> Registry:
        if not built:
            with lock:
                if not built:
                    from dockyard.factory import build_registry

                    built.append(build_registry(settings()))
        return built[0]

    return provide


class RoutesOnDemand:
    """Adds the routes of everything but the distribution API (the admin API, direct pushes, the web page)
    to the app on the first request for a path outside `/v2` and `/token`, once: an instance that only
    serves pulls and pushes never imports them, which keeps its cold start near a bare FastAPI app's (see
    `benchmarks/coldstart.py`). They go after the distribution routes, as they always did."""

    REGISTRY_PATHS = ("/v2/", "/token")

    def __init__(self, app, include):
        self.app, self.include = app, include
        self.lock, self.done = threading.Lock(), False

    async def __call__(self, scope, receive, send):
        if not self.done and scope["type"] == "http" and not _registry_path(scope["path"]):
            with self.lock:
                if not self.done:
                    self.include()
                    self.done = True
        await self.app(scope, receive, send)


def _registry_path(path: str) -> bool:
    return path == "/v2" or path.startswith(RoutesOnDemand.REGISTRY_PATHS)


def _other_routes(app: FastAPI) -> None:
    from dockyard import ui
    from dockyard.api import admin, direct, governance, maintenance

    for module in (direct, admin, governance, maintenance):
        app.include_router(module.router)
    for router in ui.routers():  # the web page, under /ui/: after every registry route
        app.include_router(router)


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> FastAPI:
    """The registry app. Nothing touches AWS, nor reads the environment, until the first request."""
    if registry is not None:
        settings = registry.settings
    app = FastAPI(title="Dockyard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = functools.cache(lambda: settings or Settings.from_env())
    app.state.registry = _lazy_registry(app.state.settings, registry)
    install_error_handlers(app)  # adds the innermost middleware
    # Routes are matched in order, so the requests of a pull come first. Fixed paths go before the
    # `{name:path}` routes; those of blobs, manifests, uploads and listings never match each other's paths
    # (`{digest}` holds no slash), whatever their order.
    for module in (base, token, blobs, manifests, uploads, listings):
        app.include_router(module.router)
    app.add_middleware(RoutesOnDemand, include=lambda: _other_routes(app))
    app.add_middleware(RegistryHeaders)
    app.add_middleware(OriginCheck, settings=app.state.settings)  # before any route; refusals are audited
    app.add_middleware(AuditLog, reads=lambda: app.state.settings().audit_reads)
    app.add_middleware(BodyLimit, limit=lambda: app.state.settings().max_body)
    return app
