"""Retention rules, garbage collection runs and their reports, and the lease that keeps one real run at a
time (`MaintenanceStore` on DynamoDB)."""

from __future__ import annotations

import json

from dockyard.storage import keys
from dockyard.storage.dynamo.table import SK, TTL, Cond, Table, absent, equals, exists, key, n, s, value
from dockyard.storage.types import ConditionFailed, GcRun, RetentionRule

# Runs and their reports stay this long (the table's TTL deletes them).
RUN_RETENTION = 30 * 24 * 3600
DURATIONS = ("expire_after", "untagged_after", "unpulled_after")


def _rule(item: dict) -> RetentionRule:
    return RetentionRule(pattern=item[SK]["S"][len(keys.RULE_PREFIX):], keep_last=n(item, "keep_last", None),
                         **{d: n(item, d, None) for d in DURATIONS}, tags=tuple(json.loads(s(item, "tags") or "[]")),
                         keep_tags=tuple(json.loads(s(item, "keep_tags") or "[]")), created_at=n(item, "created_at"))


def _run(item: dict) -> GcRun:
    data = json.loads(item["run"]["S"])
    return GcRun(**data)


class DynamoMaintenance:
    def __init__(self, table: Table):
        self.table = table

    # --- retention rules --------------------------------------------------------------------------------------

    def put_rule(self, rule: RetentionRule) -> None:
        item = {**key(keys.RETENTION_PK, keys.rule_sk(rule.pattern)), "created_at": value(rule.created_at),
                "tags": value(json.dumps(list(rule.tags))), "keep_tags": value(json.dumps(list(rule.keep_tags)))}
        for name in ("keep_last", *DURATIONS):
            if getattr(rule, name) is not None:
                item[name] = value(getattr(rule, name))
        self.table.put(item)

    def list_rules(self) -> list[RetentionRule]:
        return [_rule(item) for item in self.table.query_all(keys.RETENTION_PK, keys.RULE_PREFIX)]

    def delete_rule(self, pattern: str) -> bool:
        try:
            self.table.delete(keys.RETENTION_PK, keys.rule_sk(pattern), exists())
        except ConditionFailed:
            return False
        return True

    # --- runs -------------------------------------------------------------------------------------------------

    def save_run(self, run: GcRun) -> None:
        self.table.put({**key(keys.GC_PK, keys.run_sk(run.id)), "run": value(json.dumps(run.__dict__)),
                        TTL: value(run.started_at + RUN_RETENTION)})

    def get_run(self, run_id: str) -> GcRun | None:
        item = self.table.get(keys.GC_PK, keys.run_sk(run_id))
        return _run(item) if item else None

    def list_runs(self, limit: int) -> list[GcRun]:
        """The latest runs, newest first."""
        return [_run(item) for item in self.table.newest(keys.GC_PK, keys.RUN_PREFIX, limit)]

    def add_report(self, run: GcRun, part: int, entries: list[dict]) -> None:
        self.table.put({**key(keys.GC_PK, keys.report_sk(run.id, part)), "entries": value(json.dumps(entries)),
                        TTL: value(run.started_at + RUN_RETENTION)})

    def report(self, run_id: str, part: int) -> list[dict] | None:
        item = self.table.get(keys.GC_PK, keys.report_sk(run_id, part))
        return json.loads(item["entries"]["S"]) if item else None

    # --- the lease of the real run ----------------------------------------------------------------------------

    def take_lock(self, run_id: str, until: int, now: int) -> str | None:
        """Hold the lease for `run_id` until `until`, if it is free (or already ours); else the run holding it."""
        free = Cond("attribute_not_exists(#pk) OR #until < :now OR #run = :run",
                    {"#pk": "pk", "#until": "lock_until", "#run": "run"}, {":now": value(now), ":run": value(run_id)})
        try:
            self.table.put({**key(keys.GC_PK, keys.LOCK_SK), "run": value(run_id), "lock_until": value(until)}, free)
        except ConditionFailed:
            item = self.table.get(keys.GC_PK, keys.LOCK_SK)
            return s(item, "run") if item else "another run"
        return None

    def release_lock(self, run_id: str) -> None:
        try:
            self.table.delete(keys.GC_PK, keys.LOCK_SK, equals("run", run_id))
        except ConditionFailed:
            pass
