"""Immutability rules (`GovernanceStore` on DynamoDB), one item per rule under one partition, so that every
rule is one query."""

from __future__ import annotations

import json

from dockyard.storage import keys
from dockyard.storage.dynamo.table import SK, Table, exists, key, n, value
from dockyard.storage.types import ConditionFailed, ImmutabilityRule


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
