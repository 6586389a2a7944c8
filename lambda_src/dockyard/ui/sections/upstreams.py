"""Upstreams of the pull-through cache: list, add (the password goes to the credential store and is never
shown again), remove."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.api.deps import RegistryDep
from dockyard.audit import audited
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt, one
from dockyard.ui.web import PREFIX, render

SECTION = Section("upstreams", "Upstreams", "Registries this one caches: pulls of NAME/repo read through upstream "
                  "NAME, and are kept as ordinary content.", available=lambda registry: hasattr(registry, "upstreams"))
routes = SECTION.routes


def _page(request, registry, status: int = 200, **context):
    context.setdefault("form", {"name": "", "url": "", "username": ""})
    return render(request, "admin/upstreams.html", status=status, upstreams=registry.upstreams.list(),
                  section=SECTION, **context)


@routes.get(SECTION.path)
def list_upstreams(request: Request, registry: RegistryDep, viewer: AnyViewer, removed: str | None = None,
                   added: str | None = None):
    viewer.require_admin()
    return _page(request, registry, removed=removed, added=added)


@routes.post(SECTION.path)
@audited("upstream.add", status=303)
def add_upstream(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    upstream, refused = attempt(lambda: registry.upstreams.add(
        form.get("name", "").strip(), form.get("url", "").strip(), form.get("username", "").strip() or None,
        form.get("password") or None, form.get("mirror") == "on"), (400, 409))
    if refused:  # the form again, without the password
        return _page(request, registry, refused.err.status, error=refused.detail,
                     form={k: v for k, v in form.items() if k != "password"})
    return RedirectResponse(f"{PREFIX}{SECTION.path}?added={upstream['name']}", status_code=303)


@routes.get(SECTION.path + "/{upstream}/remove")
def confirm_remove(request: Request, upstream: str, registry: RegistryDep, viewer: AnyViewer):
    viewer.require_admin()
    found = one(registry.upstreams.list(), "name", upstream, "upstream")
    return render(request, "admin/upstream_remove.html", upstream=found, section=SECTION)


@routes.post(SECTION.path + "/{upstream}/remove")
@audited("upstream.remove", status=303)
def remove_upstream(request: Request, upstream: str, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    removed = registry.upstreams.remove(upstream)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?removed={removed['name']}", status_code=303)
