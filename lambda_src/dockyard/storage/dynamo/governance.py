"""Immutability rules and usage counters (`GovernanceStore` on DynamoDB).

Immutability rules are one item each under one partition, so that every rule is one query. Usage counters
are one item per repository and day, in the repository's partition; a batch of counts is one UpdateItem that
adds them (no read, no condition: concurrent instances add theirs without conflict).
"""

from __future__ import annotations

import json

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import PK, SK, TTL, Table, exists, key, n, value
from dockyard.storage.types import ConditionFailed, ImmutabilityRule, StoredRepository, UsageCounts

COUNTERS = ("pulls", "redirects", "redirect_bytes", "served", "served_bytes", "pushes")
LATEST = ("last_pull", "last_push")
# What an item costs beside its body, roughly: key, names and the other attributes (DynamoDB bills storage
# per byte of names and values, plus 100 bytes of overhead per item).
ITEM_OVERHEAD = 100 + 150


def _immutability(item: dict) -> ImmutabilityRule:
    return ImmutabilityRule(pattern=item[SK]["S"][len(keys.RULE_PREFIX):],
                            mutable_tags=tuple(json.loads(item["mutable_tags"]["S"])),
                            created_at=n(item, "created_at"))


class DynamoGovernance:
    def __init__(self, table: Table):
        self.table = table

    def list_immutability(self) -> list[ImmutabilityRule]:
        items = self.table.query_all(keys.IMMUTABILITY_PK, keys.RULE_PREFIX, consistent=True)
        return [_immutability(item) for item in items]

    def put_immutability(self, rule: ImmutabilityRule) -> None:
        self.table.put({**key(keys.IMMUTABILITY_PK, keys.rule_sk(rule.pattern)),
                        "mutable_tags": value(json.dumps(list(rule.mutable_tags))),
                        "created_at": value(rule.created_at)})

    def delete_immutability(self, pattern: str) -> bool:
        try:
            self.table.delete(keys.IMMUTABILITY_PK, keys.rule_sk(pattern), exists())
        except ConditionFailed:
            return False
        return True

    def add_usage(self, repo: str, day: str, counts: UsageCounts, expires_at: int) -> None:
        adds = {name: getattr(counts, name) for name in COUNTERS if getattr(counts, name)}
        sets = {name: getattr(counts, name) for name in LATEST if getattr(counts, name)}
        sets[TTL] = expires_at
        clauses = ["SET " + ", ".join(f"#{a} = :{a}" for a in sets)]
        if adds:
            clauses.append("ADD " + ", ".join(f"#{a} :{a}" for a in adds))
        self.table.update(keys.repo_pk(repo), keys.usage_sk(day), " ".join(clauses),
                          {f"#{a}": a for a in [*sets, *adds]}, {f":{a}": value(v) for a, v in {**sets, **adds}.items()})

    def list_usage(self, repo: str) -> dict[str, UsageCounts]:
        items = self.table.query_all(keys.repo_pk(repo), keys.USAGE_PREFIX)
        return {item[SK]["S"][len(keys.USAGE_PREFIX):]: _counts(item) for item in items}

    def stored(self, repo: str) -> StoredRepository:
        """One walk of the repository's partition (its links, manifests, tags, referrer entries and days)."""
        blobs, manifests, manifest_bytes, tags, item_bytes, usage = {}, 0, 0, 0, 0, {}
        for item in self.table.query_all(keys.repo_pk(repo), ""):
            sk = item[SK]["S"]
            inline = n(item, "size") if "body" in item else 0
            item_bytes += ITEM_OVERHEAD + inline
            if sk.startswith(keys.LINK_PREFIX):
                if "location" in item:  # a link (a placeholder holds no bytes)
                    blobs[Digest.parse(sk[len(keys.LINK_PREFIX):])] = n(item, "size")
            elif sk.startswith(keys.MANIFEST_ITEM_PREFIX):
                manifests, manifest_bytes = manifests + 1, manifest_bytes + n(item, "size")
            elif sk.startswith(keys.TAG_PREFIX):
                tags += 1
            elif sk.startswith(keys.USAGE_PREFIX):
                usage[sk[len(keys.USAGE_PREFIX):]] = _counts(item)
        return StoredRepository(blobs, manifests, manifest_bytes, tags, item_bytes, usage)

    def blob_links(self, digests) -> dict[Digest, int]:
        """How many repositories link each blob (from its record; one BatchGetItem per 100)."""
        items = self.table.batch_get([(keys.blob_record_pk(d), keys.BLOB_RECORD_SK) for d in digests], ("links",))
        return {Digest.parse(item[PK]["S"].split("#", 1)[1]): n(item, "links") for item in items}


def _counts(item: dict) -> UsageCounts:
    return UsageCounts(**{a: n(item, a) for a in (*COUNTERS, *LATEST)})
