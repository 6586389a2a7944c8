"""Quotas and usage: storage quotas per repository glob (used against limit; set, delete), and what each
repository stores, does and costs. Over the same registry calls as `/dockyard/v1/quotas` and
`/dockyard/v1/usage`."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.api.deps import RegistryDep
from dockyard.audit import audited
from dockyard.domain.sizes import parse_size
from dockyard.errors import Err, RegistryError
from dockyard.pricing import EGRESS
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt, one
from dockyard.ui.web import PREFIX, render, usd

SECTION = Section("quotas", "Quotas and usage", "Storage quotas per repository glob, and what each repository "
                  "stores, pulls and costs.", available=lambda registry: hasattr(registry, "quotas"))
routes = SECTION.routes
USAGE_PAGE = 20  # repositories per usage page (each one walk of its items)
DAYS = (1, 7, 30, 90)


def limit_of(form: dict[str, str]) -> int:
    """The limit a form names (`50GiB`, `500MB`, bytes); INVALID_PARAMETER otherwise."""
    try:
        return parse_size(form.get("limit", ""))
    except ValueError as exc:
        raise RegistryError(Err.INVALID_PARAMETER, f"limit: {exc}") from None


def _page(request, registry, status: int = 200, **context):
    context.setdefault("form", {"pattern": "", "limit": ""})
    quotas = sorted(registry.quotas.list(), key=lambda q: q["pattern"])
    return render(request, "admin/quotas.html", status=status, quotas=quotas, section=SECTION, **context)


@routes.get(SECTION.path)
def list_quotas(request: Request, registry: RegistryDep, viewer: AnyViewer, saved: str | None = None,
                deleted: str | None = None, deleting: str | None = None):
    viewer.require_admin()
    return _page(request, registry, saved=saved, deleted=deleted, deleting=deleting)


@routes.post(SECTION.path)
@audited("quota.set", status=303)
def set_quota(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    quota, refused = attempt(lambda: registry.quotas.set(form.get("pattern", "").strip(), limit_of(form)), (400, 409))
    if refused:
        return _page(request, registry, refused.err.status, error=refused.detail, form=form)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({'saved': quota['pattern']})}", status_code=303)


@routes.get(SECTION.path + "/delete")
def confirm_delete(request: Request, registry: RegistryDep, viewer: AnyViewer, pattern: str = ""):
    viewer.require_admin()
    quota = one(registry.quotas.list(), "pattern", pattern, "quota for")
    return render(request, "admin/quota_delete.html", quota=quota, section=SECTION)


@routes.post(SECTION.path + "/delete")
@audited("quota.delete", status=303)
def delete_quota(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    answer = registry.quotas.delete(form.get("pattern", ""))
    outcome = "deleted" if answer["done"] else "deleting"
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({outcome: answer['quota']['pattern']})}",
                            status_code=303)


@routes.get(SECTION.path + "/usage")
def usage(request: Request, registry: RegistryDep, viewer: AnyViewer, glob: str = "*", days: int = 30,
          egress: str = "in-region", last: str | None = None):
    viewer.require_admin()
    query = {"glob": glob[:300], "days": days, "egress": egress[:40]}
    report, refused = attempt(lambda: registry.usage.report(glob, days, egress, USAGE_PAGE, last))
    more = f"?{urlencode({**query, 'last': report['next']})}" if report and report["next"] else None
    rows = report["repositories"] if report else []
    chart = [(r["repository"], r["monthly_cost_usd"]["total"], usd(r["monthly_cost_usd"]["total"])) for r in rows]
    return render(request, "admin/usage.html", status=refused.err.status if refused else 200, report=report,
                  error=refused.detail if refused else None, query=query, more=more, first=last is None,
                  choices={"days": DAYS, "egress": list(EGRESS)}, chart=chart, section=SECTION)
