"""The admin sections of the page. Each is a module with a `SECTION` (its title, its routes and whether the
registry it runs on has the admin API behind it); adding one is a module, a template and one line below."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Request

from dockyard.api.deps import RegistryDep
from dockyard.errors import Err, RegistryError
from dockyard.ui.deps import AnyViewer, router
from dockyard.ui.web import render


@dataclass(frozen=True)
class Section:
    slug: str  # its pages live under /ui/admin/<slug>
    title: str
    summary: str
    available: Callable = lambda registry: True  # noqa: E731 - the admin API exists on this registry
    routes: APIRouter = field(default_factory=router)

    @property
    def path(self) -> str:
        return f"/admin/{self.slug}"


def attempt(call, statuses=(400,)) -> tuple[object, RegistryError | None]:
    """Run an admin call; a refusal with one of `statuses` (bad input, a conflict) comes back, to be shown on
    the form again, instead of as an error page."""
    try:
        return call(), None
    except RegistryError as exc:
        if exc.err.status not in statuses:
            raise
        return None, exc


def one(rows: list[dict], field: str, value: str, what: str) -> dict:
    """The row whose `field` is `value` (the one a confirmation page names), or NOT_FOUND naming `what`."""
    found = next((row for row in rows if row[field] == value), None)
    if found is None:
        raise RegistryError(Err.NOT_FOUND, f"no {what} {value[:300]!r}")
    return found


def sections() -> list[Section]:
    from dockyard.ui.sections import anonymous, immutability, keys, maintenance, quotas, upstreams

    return [keys.SECTION, anonymous.SECTION, immutability.SECTION, maintenance.SECTION, quotas.SECTION,
            upstreams.SECTION]


def available(registry) -> list[Section]:
    return [section for section in sections() if section.available(registry)]


index = router()


@index.get("/admin/")
def admin_index(request: Request, registry: RegistryDep, viewer: AnyViewer):
    viewer.require_admin()
    return render(request, "admin/index.html", sections=available(registry))


def routers() -> list[APIRouter]:
    return [index, *(section.routes for section in sections())]
