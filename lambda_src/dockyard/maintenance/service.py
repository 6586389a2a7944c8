"""Maintenance as the admin API and the CLI see it: retention rules, GC runs and their reports, and what the
registry knows of each manifest's pushes and pulls.

A run is started here and carried on elsewhere: in a thread of this process (`dockyard serve`, tests), or by
the scheduled function, which alone may delete blob bytes (a deployed stack: `DOCKYARD_GC_FUNCTION` names it,
and it is invoked asynchronously).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.domain.names import validate_name
from dockyard.errors import Err, RegistryError
from dockyard.maintenance import retention
from dockyard.maintenance.runs import Busy, Runner
from dockyard.storage.interfaces import Storage
from dockyard.storage.types import GcRun, ManifestInfo, RetentionRule

log = logging.getLogger("dockyard")
MAX_LISTED = 1000


def describe_run(run: GcRun) -> dict:
    return {"id": run.id, "state": run.state, "dry_run": run.dry_run, "grace": run.grace, "phase": run.phase,
            "started_at": run.started_at, "updated_at": run.updated_at, "finished_at": run.finished_at,
            "counts": run.counts, "report_parts": run.parts, "error": run.error}


def describe_rule(rule: RetentionRule) -> dict:
    return {"pattern": rule.pattern, "keep_last": rule.keep_last, "expire_after": rule.expire_after,
            "untagged_after": rule.untagged_after, "unpulled_after": rule.unpulled_after, "tags": list(rule.tags),
            "keep_tags": list(rule.keep_tags), "created_at": rule.created_at}


def describe_manifest(info: ManifestInfo, tag_pulls: dict[str, int | None]) -> dict:
    pulls = [p for p in [info.last_pulled, *(tag_pulls.get(t) for t in info.tags)] if p]
    return {"digest": str(info.digest), "media_type": info.media_type, "size": info.size, "tags": info.tags,
            "pushed_at": info.pushed_at, "untagged_at": info.untagged_at if not info.tags else None,
            "last_pulled": max(pulls) if pulls else None, "subject": str(info.subject) if info.subject else None,
            "listed_by_indexes": info.parents}


class Maintenance:
    def __init__(self, storage: Storage, settings: Settings, runner: Runner, launch=None):
        """`launch(run_id)` carries a started run on somewhere (default: a thread of this process)."""
        self.storage, self.settings, self.runner = storage, settings, runner
        self.launch = launch or self._in_thread

    # --- GC runs ----------------------------------------------------------------------------------------------

    def start(self, dry_run: bool, grace: int | None) -> dict:
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool) or grace < 0):
            raise RegistryError(Err.INVALID_PARAMETER, "grace must be a number of seconds, 0 or more")
        try:
            run = self.runner.start(dry_run, self.settings.gc_grace if grace is None else grace)
        except Busy as busy:
            raise RegistryError(Err.GC_BUSY, {"run": busy.holder}) from None
        self.launch(run.id)
        return describe_run(run)

    def _in_thread(self, run_id: str) -> None:
        threading.Thread(target=self.runner.work, args=(run_id,), name=f"dockyard-gc-{run_id}", daemon=True).start()

    def run(self, run_id: str) -> dict:
        run = self.storage.maintenance.get_run(run_id) if len(run_id) < 64 else None
        if run is None:
            raise RegistryError(Err.NOT_FOUND, f"no garbage collection run {run_id[:64]!r}")
        return describe_run(run)

    def runs(self, limit: int = 20) -> list[dict]:
        return [describe_run(run) for run in self.storage.maintenance.list_runs(limit)]

    def report(self, run_id: str, part: int) -> list[dict]:
        return self.run_with_report(run_id, part)[1]

    def run_with_report(self, run_id: str, part: int) -> tuple[dict, list[dict]]:
        """A run and one part of its report (two reads); a run still going may have written no part yet."""
        run = self.run(run_id)
        if not 0 <= part < max(run["report_parts"], 1):
            raise RegistryError(Err.NOT_FOUND, f"run {run_id} has {run['report_parts']} report parts")
        return run, self.storage.maintenance.report(run_id, part) or []

    def overview(self, runs: int = 20) -> tuple[list[dict], list[dict]]:
        """The rules and the latest runs, newest first (two queries)."""
        return self.rules(), self.runs(runs)

    # --- retention rules --------------------------------------------------------------------------------------

    def set_rule(self, rule: RetentionRule) -> dict:
        rule = retention.validated(replace(rule, created_at=int(time.time())))
        self.storage.maintenance.put_rule(rule)
        return describe_rule(rule)

    def rules(self) -> list[dict]:
        return [describe_rule(rule) for rule in self.storage.maintenance.list_rules()]

    def rule_for(self, repository: str) -> dict | None:
        """The rule that applies to `repository` (the most specific glob matching it), or None (one query)."""
        rule = retention.rule_for(repository, self.storage.maintenance.list_rules())
        return describe_rule(rule) if rule else None

    def delete_rule(self, pattern: str) -> None:
        if not self.storage.maintenance.delete_rule(pattern):
            raise RegistryError(Err.NOT_FOUND, f"no retention rule for {pattern[:300]!r}")

    # --- pushes and pulls -------------------------------------------------------------------------------------

    def manifests(self, repo: str, limit: int | None, last: str | None) -> tuple[list[dict], str | None]:
        """A page of the repository's manifests: tags, when pushed, when last pulled (by tag or digest)."""
        validate_name(repo)
        if last is not None:
            Digest.parse(last, Err.INVALID_PARAMETER)
        size = MAX_LISTED if limit is None else limit
        if not isinstance(size, int) or not 0 < size <= MAX_LISTED:
            raise RegistryError(Err.INVALID_PARAMETER, f"n must be from 1 to {MAX_LISTED}")
        page = self.storage.manifests.list_manifests(repo, size, last)
        if not page.items and not self.storage.manifests.repository_exists(repo):
            raise RegistryError(Err.NAME_UNKNOWN, f"repository {repo} is not known")
        tag_pulls: dict[str, int | None] = {}
        if any(info.tags for info in page.items):
            last_tag = None
            while True:
                tags = self.storage.manifests.list_tag_infos(repo, 1000, last_tag)
                tag_pulls.update({t.tag: t.last_pulled for t in tags.items})
                if tags.last is None:
                    break
                last_tag = tags.last
        return [describe_manifest(info, tag_pulls) for info in page.items], page.last
