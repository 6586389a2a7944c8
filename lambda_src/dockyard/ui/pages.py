"""The browsing pages: repositories, a repository's tags, an image, and the delete of a tag or manifest."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.audit import audited
from dockyard.api.deps import RegistryDep
from dockyard.registry.browse import MAX_ROWS
from dockyard.ui.deps import Browser, Form, router
from dockyard.ui.web import PREFIX, asset_response, human_size, registry_host, render

pages = router()
CHART_ROWS = 100  # bars of the layer-size chart
PULL_DAYS = 14  # days of the pulls chart


@pages.get("/static/{name}")
def static(name: str):
    return asset_response(name)


@pages.get("/")
def repositories(request: Request, registry: RegistryDep, viewer: Browser, q: str = "", after: str | None = None):
    page = registry.browse.repositories(lambda name: viewer.can(name, "pull"), q, after)
    more = f"{PREFIX}/?{urlencode({'q': q, 'after': page.after})}" if page.after else None
    chart = [(r.name, r.size, human_size(r.size)) for r in sorted(page.rows, key=lambda r: -r.size)]
    return render(request, "repositories.html", page=page, q=q, more=more, first=after is None, chart=chart)


@pages.get("/r/{name:path}/-/manifests/{reference}")
def image(request: Request, name: str, reference: str, registry: RegistryDep, viewer: Browser):
    viewer.require(name, "pull")
    view = registry.browse.image(name, reference)
    layers = view.parsed.layers
    steps = view.config.layer_steps(len(layers)) if view.config else [None] * len(layers)
    chart = [(f"{i}. {layer.digest.rpartition(':')[2][:12]}", layer.size, human_size(layer.size))
             for i, layer in enumerate(layers[:CHART_ROWS], 1)]
    return render(request, "image.html", view=view, host=registry_host(request, registry), chart=chart,
                  layers=list(zip(layers, steps))[:MAX_ROWS], children=view.children[:MAX_ROWS],
                  can_delete=viewer.can(name, "delete") and registry.settings.delete_enabled)


@pages.get("/r/{name:path}/-/delete/{reference}")
def confirm_delete(request: Request, name: str, reference: str, registry: RegistryDep, viewer: Browser):
    viewer.require(name, "delete")
    return render(request, "delete.html", plan=registry.browse.deletion(name, reference))


@pages.post("/r/{name:path}/-/delete/{reference}")
@audited("manifest.delete", status=303)
def delete(request: Request, name: str, reference: str, registry: RegistryDep, viewer: Browser, form: Form):
    viewer.require(name, "delete")
    registry.manifests.delete(name, reference)
    return RedirectResponse(f"{PREFIX}/r/{quote(name)}?{urlencode({'deleted': reference})}", status_code=303)


@pages.get("/r/{name:path}")
def repository(request: Request, name: str, registry: RegistryDep, viewer: Browser, page: int = 1,
               after: str | None = None, deleted: str | None = None, q: str = ""):
    viewer.require(name, "pull")
    tags = registry.browse.tags(name, page, after, q[:128], retention=viewer.is_admin)
    pulls = [(day, count, str(count)) for day, count in tags.pulls[-PULL_DAYS:]] if tags.pulls is not None else None
    return render(request, "repository.html", tags=tags, host=registry_host(request, registry), deleted=deleted,
                  can_delete=viewer.can(name, "delete") and registry.settings.delete_enabled, pulls=pulls)
