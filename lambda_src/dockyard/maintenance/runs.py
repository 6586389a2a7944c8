"""A garbage collection run: retention, then the queue, within a time budget, resumable from its record.

`Runner.start` records a new run (a real one takes the one lease: `Busy` if another real run holds it);
`Runner.work` carries it on until it is done or its deadline comes, saving its phase and cursor after each
unit of work (a repository, a page of the queue), so that the next invocation continues where it stopped.
Every deletion of a real run writes an audit line; every deletion, real or predicted, goes to the report.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable

from dockyard import audit
from dockyard.domain.digest import Digest
from dockyard.domain.mediatypes import INDEXES
from dockyard.maintenance import retention
from dockyard.maintenance.steps import Dry, Live
from dockyard.registry.immutability import applying
from dockyard.storage.interfaces import Storage
from dockyard.storage.types import GcRun, ManifestInfo, QueueEntry, Uses

log = logging.getLogger("dockyard")

# How long a run may hold the lease without saving its progress (longer than one Lambda invocation).
LEASE = 20 * 60
# A run saves its place this often (seconds), and with each report part.
CHECKPOINT = 10
# Entries per report part (each part is one item, well under DynamoDB's 400 KB).
REPORT_PART = 1000
QUEUE_PAGE = 100
CATALOG_PAGE = 100
# Queue passes per run: with a grace of 0, a pass that collected something (a link collected queues its
# record) is followed by another, so that a whole cascade goes in one run; with a grace, what a pass queued
# waits for the grace, that is for a later run.
MAX_PASSES = 8
COUNTS = ("deleted_tags", "deleted_manifests", "deleted_links", "deleted_blobs", "deleted_dropped",
          "deleted_uploads", "freed_bytes", "skipped")
Uses_of = Callable[[Digest, str, bytes | None, str | None, bool], Uses]


class Busy(Exception):
    """Another real run holds the lease."""

    def __init__(self, holder: str):
        super().__init__(f"garbage collection run {holder} is in progress")
        self.holder = holder


def new_run_id(now: float) -> str:
    """A run id that sorts by its start, to the millisecond (two runs started in one second list in order)."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}.{int(now * 1000) % 1000:03d}Z-{secrets.token_hex(3)}"


class Runner:
    def __init__(self, storage: Storage, uses: Uses_of, forget=lambda repo, digest: None):
        """`uses` says what a stored manifest references; `forget` drops a collected link or a deleted
        manifest (by digest) from this instance's caches."""
        self.storage, self.uses, self.forget = storage, uses, forget

    def start(self, dry_run: bool, grace: int) -> GcRun:
        clock = time.time()
        now = int(clock)
        run = GcRun(id=new_run_id(clock), dry_run=dry_run, grace=grace, started_at=now, phase="retention",
                    counts=dict.fromkeys(COUNTS, 0), updated_at=now)
        if not dry_run:
            holder = self.storage.maintenance.take_lock(run.id, now + LEASE, now)
            if holder is not None:
                raise Busy(holder)
        self.storage.maintenance.save_run(run)
        return run

    def work(self, run_id: str, deadline: float | None = None) -> GcRun:
        """Carry a run on until it is done, or until `deadline` (a dry run ignores it: its predictions live
        in memory, so it runs to the end)."""
        run = self.storage.maintenance.get_run(run_id)
        if run is None or run.state != "running":
            return run
        if not run.dry_run and self.storage.maintenance.take_lock(run.id, int(time.time()) + LEASE,
                                                                   int(time.time())) is not None:
            return run  # another invocation carries it on
        work = _Work(self, run, deadline if not run.dry_run else None)
        try:
            work.go()
        except Exception as exc:
            run.state, run.error = "failed", f"{type(exc).__name__}: {str(exc)[:500]}"
            log.exception("garbage collection run %s failed", run.id)
        finally:
            work.flush()
            run.updated_at = int(time.time())
            if run.state != "running":
                run.finished_at = run.updated_at
            self.storage.maintenance.save_run(run)
            if not run.dry_run and run.state != "running":
                self.storage.maintenance.release_lock(run.id)
        return run


class _Work:
    def __init__(self, runner: Runner, run: GcRun, deadline: float | None):
        self.runner, self.run, self.deadline = runner, run, deadline
        self.storage = runner.storage
        self.steps = Dry(self.storage) if run.dry_run else Live(self.storage)
        self.entries: list[dict] = []
        self.immutability_rules = None
        self.saved = time.monotonic()

    # --- driving ----------------------------------------------------------------------------------------------

    def go(self) -> None:
        run = self.run
        while run.phase != "done":
            if self.deadline is not None and time.time() > self.deadline:
                return  # saved by the caller; the next invocation continues
            if run.phase == "retention":
                self.retention_page()
            elif run.phase == "queue":
                self.queue_page()
            self.checkpoint()
        run.state = "done"

    def checkpoint(self) -> None:
        """Save the run's place (and renew its lease) every `CHECKPOINT` seconds, and with each report part: a
        crash redoes at most that much work, and every step is conditional, so doing one again is harmless."""
        flushed = len(self.entries) >= REPORT_PART
        if flushed:
            self.flush()
        if not self.run.dry_run and (flushed or time.monotonic() - self.saved >= CHECKPOINT):
            self.run.updated_at = int(time.time())
            self.storage.maintenance.save_run(self.run)
            self.storage.maintenance.take_lock(self.run.id, int(time.time()) + LEASE, int(time.time()))
            self.saved = time.monotonic()

    def flush(self) -> None:
        while self.entries:
            part, self.entries = self.entries[:REPORT_PART], self.entries[REPORT_PART:]
            self.storage.maintenance.add_report(self.run, self.run.parts, part)
            self.run.parts += 1

    def record(self, action: str, reason: str, count: str, size: int = 0, **what) -> None:
        entry = {"action": action, **{k: v for k, v in what.items() if v is not None}, "reason": reason}
        if size:
            entry["bytes"] = size
            self.run.counts["freed_bytes"] += size if action in ("delete_blob", "delete_dropped") else 0
        self.run.counts[count] += 1
        self.entries.append(entry)
        if not self.run.dry_run:
            audit.logger().info(json.dumps({"audit": 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                            "event": f"gc.{action}", "who": "gc", "run": self.run.id, "result": "ok",
                                            **entry}, sort_keys=True))

    @property
    def collected(self) -> int:
        """Deletions that can queue more garbage (a link's record, a manifest's links)."""
        return self.run.counts["deleted_links"] + self.run.counts["deleted_manifests"]

    @property
    def cutoff(self) -> int:
        return int(time.time()) - self.run.grace

    # --- retention --------------------------------------------------------------------------------------------

    def retention_page(self) -> None:
        rules = self.storage.maintenance.list_rules()
        cursor = self.run.cursor
        page = self.storage.manifests.list_repositories(CATALOG_PAGE, cursor.get("last")) if rules else None
        for repo in page.items if page else []:
            rule = retention.rule_for(repo, rules)
            if rule is not None:
                self.apply(repo, rule)
            cursor["last"] = repo
        if page is None or page.last is None:
            self.run.phase, self.run.cursor = "queue", {"shard": 0, "pass": 0, "collected": self.collected}

    def apply(self, repo: str, rule) -> None:
        tags = _all(lambda last: self.storage.manifests.list_tag_infos(repo, 1000, last))
        infos = _all(lambda last: self.storage.manifests.list_manifests(repo, 100, last))
        manifests = [retention.Manifest(i, self._uses(i).children if i.media_type in INDEXES else ()) for i in infos]
        immutable = self.immutable(repo, tags)
        plan = retention.plan(rule, tags, manifests, int(time.time()), self.run.grace, immutable)
        present = {i.digest for i in infos}
        for tag, reason in plan.tags:
            if self.steps.delete_tag(repo, tag):
                self.record("delete_tag", reason, "deleted_tags", repository=repo, tag=tag.tag,
                            digest=str(tag.digest), rule=rule.pattern)
            else:
                self.run.counts["skipped"] += 1
        for info, reason in plan.manifests:
            absent = info.subject is not None and info.subject not in present
            if self.steps.delete_manifest(repo, self._fresh(repo, info), self._uses(info), absent):
                present.discard(info.digest)
                self.runner.forget(repo, info.digest)
                self.record("delete_manifest", reason, "deleted_manifests", repository=repo, digest=str(info.digest),
                            tags=info.tags or None, rule=rule.pattern)
            else:
                self.run.counts["skipped"] += 1

    def immutable(self, repo: str, tags) -> set[str]:
        """The tags an immutability rule covers (retention keeps them); the rules are read once per run."""
        if self.immutability_rules is None:
            self.immutability_rules = self.storage.governance.list_immutability()
        return {t.tag for t in tags if applying(self.immutability_rules, repo, t.tag) is not None}

    def _fresh(self, repo: str, info: ManifestInfo) -> ManifestInfo:
        """The manifest as it is now, if only its parents changed since the plan (an index listing it was deleted
        just before); else as planned, so that the deletion's condition fails on any other change."""
        if self.steps.dry or not info.parents:
            return info
        state = self.storage.manifests.manifest_tags(repo, info.digest)
        if state is None or state.version != info.version:
            return info
        from dataclasses import replace

        return replace(info, parents=state.parents)

    def _uses(self, info) -> Uses:
        return self.runner.uses(info.digest, info.media_type, info.body, info.body_location, info.lazy)

    # --- the queue --------------------------------------------------------------------------------------------

    def queue_page(self) -> None:
        cursor, shards = self.run.cursor, self.storage.collector.shards()
        if cursor["shard"] < len(shards):
            entries, more = self.storage.collector.queue(shards[cursor["shard"]], self.cutoff, QUEUE_PAGE,
                                                         cursor.get("start"))
            for entry in entries:
                self.collect(entry)
            if more is None:
                cursor["shard"], cursor["start"] = cursor["shard"] + 1, None
            else:
                cursor["start"] = more
            return
        extra = self.steps.extra_entries()
        for entry in extra:
            self.collect(entry)
        collected = self.collected
        again = self.run.grace == 0 and collected > cursor.get("collected", 0) and cursor["pass"] + 1 < MAX_PASSES
        if again or (extra and self.run.grace == 0):
            self.run.cursor = {"shard": 0, "pass": cursor["pass"] + 1, "collected": collected}
        else:
            self.run.phase, self.run.cursor = "done", {}

    def collect(self, entry: QueueEntry) -> None:
        self.steps.now = int(time.time())
        getattr(self, f"_{entry.kind}")(entry)

    def _link(self, entry: QueueEntry) -> None:
        state = self.steps.link_state(entry.repo, entry.digest)
        if state is None or state.since is None:
            return
        if state.stale is not None:  # it moved, and the pull hints naming where it was may be left
            self.steps.clear_hints(entry.repo, entry.digest, state.stale)
        if state.refs > 0:
            self.steps.keep_link(entry.repo, entry.digest, state.since)
        elif state.since <= self.cutoff and \
                self.steps.collect_link(entry.repo, entry.digest, state.since, int(time.time())):
            self.runner.forget(entry.repo, entry.digest)
            if state.ref is not None:  # a placeholder is no link: it goes unreported
                self.record("unlink", "no manifest references it", "deleted_links", state.ref.size,
                            repository=entry.repo, digest=str(entry.digest), since=_when(state.since))

    def _record(self, entry: QueueEntry) -> None:
        state = self.steps.record_state(entry.digest)
        if state is None:
            return
        stamp = state.doomed
        if stamp is None:
            if state.links > 0:
                if state.since is not None:
                    self.steps.keep_record(entry.digest, state.since)
                return
            if state.since is None or state.since > self.cutoff:
                return
            stamp = self.steps.doom(entry.digest, state.since)
            if stamp is None:
                return
        self.steps.delete_bytes(state.ref.location)
        if self.steps.forget_record(entry.digest, stamp):
            self.record("delete_blob", "no repository links it", "deleted_blobs", state.ref.size,
                        digest=str(entry.digest), since=_when(state.since or 0))

    def _drop(self, entry: QueueEntry) -> None:
        found, digest = self.storage.collector.drop_digest(entry.location)
        if not found:
            return
        record = self.steps.record_state(digest) if digest is not None else None
        if record is None or record.ref.location != entry.location:  # recorded after all: it stays
            stat = self.storage.objects.stat(entry.location)
            self.steps.delete_bytes(entry.location)
            self.record("delete_dropped", "an upload stored these bytes and did not link them", "deleted_dropped",
                        stat.size if stat else 0, digest=str(digest) if digest else None)
        self.steps.forget_drop(entry.location)

    def _session(self, entry: QueueEntry) -> None:
        session = self.steps.expire_session(entry.upload_id, int(time.time()))
        if session is not None:
            self.steps.release_session(session)
            self.record("delete_upload", "the upload session expired", "deleted_uploads", repository=session.repo,
                        upload=session.id, since=_when(session.expires_at))

    def _pending(self, entry: QueueEntry) -> None:
        batched = self.storage.collector.batched(entry.repo, entry.handle)
        if batched is not None and batched.since <= self.cutoff:
            if self.steps.undo_pending(batched, self._uses(batched)):
                self.record("undo_pending", f"a push counted {batched.done} references and stopped",
                            "skipped", repository=entry.repo, digest=str(entry.digest))

    def _unref(self, entry: QueueEntry) -> None:
        batched = self.storage.collector.batched(entry.repo, entry.handle)
        if batched is not None:
            self.steps.pay_unref(batched, self._uses(batched))


def _all(page_of) -> list:
    items, last = [], None
    while True:
        page = page_of(last)
        items += page.items
        if page.last is None:
            return items
        last = page.last


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
