"""Immutable tags: the rules (a repository glob, and the tag globs that stay mutable under it), set or
replace one, delete one after a confirmation. Over the same registry calls as `/dockyard/v1/immutability`."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.api.deps import RegistryDep
from dockyard.audit import audited
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt, one
from dockyard.ui.web import PREFIX, render

SECTION = Section("immutability", "Immutable tags", "Repository globs whose tags can be neither moved nor deleted, "
                  "but for the tag globs kept mutable (latest, dev-*).",
                  available=lambda registry: hasattr(registry, "immutability"))
routes = SECTION.routes


def _page(request, registry, status: int = 200, **context):
    context.setdefault("form", {"pattern": "", "mutable": ""})
    rules = sorted(registry.immutability.list(), key=lambda rule: rule["pattern"])
    return render(request, "admin/immutability.html", status=status, rules=rules, section=SECTION, **context)


@routes.get(SECTION.path)
def list_rules(request: Request, registry: RegistryDep, viewer: AnyViewer, saved: str | None = None,
               deleted: str | None = None):
    viewer.require_admin()
    return _page(request, registry, saved=saved, deleted=deleted)


@routes.post(SECTION.path)
@audited("immutability.set", status=303)
def set_rule(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    pattern = form.get("pattern", "").strip()
    mutable = [t for t in re.split(r"[\s,]+", form.get("mutable", "")) if t]
    rule, refused = attempt(lambda: registry.immutability.set(pattern, mutable))
    if refused:
        return _page(request, registry, 400, error=refused.detail, form=form)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({'saved': rule['pattern']})}", status_code=303)


@routes.get(SECTION.path + "/delete")
def confirm_delete(request: Request, registry: RegistryDep, viewer: AnyViewer, pattern: str = ""):
    viewer.require_admin()
    rule = one(registry.immutability.list(), "pattern", pattern, "immutability rule for")
    return render(request, "admin/immutability_delete.html", rule=rule, section=SECTION)


@routes.post(SECTION.path + "/delete")
@audited("immutability.delete", status=303)
def delete_rule(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    rule = registry.immutability.delete(form.get("pattern", ""))
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({'deleted': rule['pattern']})}", status_code=303)
