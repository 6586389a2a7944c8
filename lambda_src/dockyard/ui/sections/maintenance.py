"""Maintenance: the retention rules (set, delete), garbage collection runs (a preview, that is a dry run, or a
real one) and each run's report: what it deleted, or would, and why. Over the same registry calls as
`/dockyard/v1/retention` and `/dockyard/v1/gc`."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.api.deps import RegistryDep
from dockyard.audit import audited
from dockyard.domain import durations
from dockyard.errors import Err, RegistryError
from dockyard.maintenance import ACTIONS
from dockyard.storage.types import RetentionRule
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt, one
from dockyard.ui.web import PREFIX, render

SECTION = Section("maintenance", "Maintenance", "Retention rules, their preview, and garbage collection runs with "
                  "what each deleted and why.", available=lambda registry: hasattr(registry, "maintenance"))
routes = SECTION.routes
DURATIONS = ("expire_after", "untagged_after", "unpulled_after")
RULE_FIELDS = ("pattern", "keep_last", *DURATIONS, "tags", "keep_tags")
RUNS_SHOWN = 20


def _invalid(detail: str) -> RegistryError:
    return RegistryError(Err.INVALID_PARAMETER, detail)


def rule_of(form: dict[str, str]) -> RetentionRule:
    """The rule a form describes; INVALID_PARAMETER for a count or duration that is not one (the registry
    judges the rest, as it does the API's)."""
    keep_last = form.get("keep_last", "").strip()
    if keep_last and not keep_last.isdigit():
        raise _invalid(f"keep last must be a whole number of tags, not {keep_last[:40]!r}")
    found = {}
    for name in DURATIONS:
        text = form.get(name, "").strip()
        try:
            found[name] = durations.seconds(text) if text else None
        except ValueError as exc:
            raise _invalid(f"{name.replace('_', ' ')}: {exc}") from None
    tags, keep_tags = (tuple(t for t in re.split(r"[\s,]+", form.get(name, "")) if t) for name in ("tags", "keep_tags"))
    return RetentionRule(pattern=form.get("pattern", "").strip(), keep_last=int(keep_last) if keep_last else None,
                         tags=tags, keep_tags=keep_tags, **found)


def grace_of(form: dict[str, str]) -> int | None:
    text = form.get("grace", "").strip()
    try:
        return durations.seconds(text, allow_zero=True) if text else None
    except ValueError as exc:
        raise _invalid(f"grace: {exc}") from None


def _page(request, registry, status: int = 200, **context):
    context.setdefault("form", dict.fromkeys(RULE_FIELDS, ""))
    rules, runs = registry.maintenance.overview(RUNS_SHOWN)
    return render(request, "admin/maintenance.html", status=status, rules=sorted(rules, key=lambda r: r["pattern"]),
                  runs=runs, section=SECTION, grace=durations.text(registry.settings.gc_grace), **context)


@routes.get(SECTION.path)
def overview(request: Request, registry: RegistryDep, viewer: AnyViewer, saved: str | None = None,
             deleted: str | None = None):
    viewer.require_admin()
    return _page(request, registry, saved=saved, deleted=deleted)


@routes.post(SECTION.path)
@audited("retention.set", status=303)
def set_rule(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    rule, refused = attempt(lambda: registry.maintenance.set_rule(rule_of(form)))
    if refused:
        return _page(request, registry, 400, error=refused.detail, form=form)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({'saved': rule['pattern']})}", status_code=303)


@routes.get(SECTION.path + "/delete")
def confirm_delete(request: Request, registry: RegistryDep, viewer: AnyViewer, pattern: str = ""):
    viewer.require_admin()
    rule = one(registry.maintenance.rules(), "pattern", pattern, "retention rule for")
    return render(request, "admin/retention_delete.html", rule=rule, section=SECTION)


@routes.post(SECTION.path + "/delete")
@audited("retention.delete", status=303)
def delete_rule(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    pattern = form.get("pattern", "")
    registry.maintenance.delete_rule(pattern)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?{urlencode({'deleted': pattern})}", status_code=303)


@routes.get(SECTION.path + "/gc")
def confirm_run(request: Request, registry: RegistryDep, viewer: AnyViewer, grace: str = ""):
    viewer.require_admin()
    return render(request, "admin/gc_confirm.html", section=SECTION, grace=grace[:40],
                  default_grace=durations.text(registry.settings.gc_grace))


@routes.post(SECTION.path + "/gc")
@audited("gc.start", status=303)
def start_run(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    dry_run = form.get("dry_run") != "0"  # only a form that says so starts a real run
    run, refused = attempt(lambda: registry.maintenance.start(dry_run, grace_of(form)), (400, 409))
    if refused:
        busy = refused.detail.get("run") if isinstance(refused.detail, dict) else None
        return _page(request, registry, refused.err.status, busy=busy, gc_form=form,
                     gc_error=None if busy else refused.detail)
    return RedirectResponse(f"{PREFIX}{SECTION.path}/runs/{quote(run['id'])}", status_code=303)


@routes.get(SECTION.path + "/runs/{run_id}")
def show_run(request: Request, run_id: str, registry: RegistryDep, viewer: AnyViewer, part: int = 0):
    viewer.require_admin()
    run, entries = registry.maintenance.run_with_report(run_id, part)
    return render(request, "admin/gc_run.html", run=run, entries=entries, part=part, actions=ACTIONS,
                  section=SECTION, grace=durations.text(run["grace"]))
