"""Anonymous pull: the repository patterns anyone may pull without a key."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.audit import audited
from dockyard.api.deps import RegistryDep
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt
from dockyard.ui.web import PREFIX, render

SECTION = Section("anonymous", "Anonymous pull", "Repositories that anyone may pull without a key.")
routes = SECTION.routes


@routes.get(SECTION.path)
def show(request: Request, registry: RegistryDep, viewer: AnyViewer, saved: str | None = None):
    viewer.require_admin()
    patterns = registry.access.anonymous()
    return render(request, "admin/anonymous.html", patterns="\n".join(patterns), saved=saved is not None,
                  section=SECTION, open=viewer.open)


@routes.post(SECTION.path)
@audited("anonymous.set", status=303)
def save(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    patterns = [line.strip() for line in form.get("patterns", "").splitlines() if line.strip()]
    _, refused = attempt(lambda: registry.access.set_anonymous(patterns))
    if refused:
        return render(request, "admin/anonymous.html", status=400, patterns=form.get("patterns", ""), saved=False,
                      error=refused.detail, section=SECTION, open=viewer.open)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?saved=1", status_code=303)
