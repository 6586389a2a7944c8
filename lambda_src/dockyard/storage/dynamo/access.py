"""Access keys and the anonymous policy (`AccessStore` on DynamoDB), under one partition."""

from __future__ import annotations

import json

from dockyard.storage import keys
from dockyard.storage.dynamo.table import SK, Cond, Table, exists, key, n, value
from dockyard.storage.types import AccessKeyRecord, ConditionFailed, Page


def _record(item: dict) -> AccessKeyRecord:
    return AccessKeyRecord(
        id=item[SK]["S"][len(keys.ACCESS_KEY_PREFIX):],
        name=item["name"]["S"],
        rules=[tuple(rule) for rule in json.loads(item["rules"]["S"])],
        salt=item["salt"]["S"],
        secret_hash=item["secret_hash"]["S"],
        created_at=n(item, "created_at"),
        expires_at=n(item, "key_expires_at") or None,  # not `expires_at`: that is the table's TTL attribute
        last_used=n(item, "last_used") or None,
        revoked_at=n(item, "revoked_at") or None,
    )


class DynamoAccess:
    def __init__(self, table: Table):
        self.table = table

    def put_access_key(self, record: AccessKeyRecord) -> None:
        item = {**key(keys.AUTH_PK, keys.access_key_sk(record.id)), "name": value(record.name),
                "rules": value(json.dumps(record.rules)), "salt": value(record.salt),
                "secret_hash": value(record.secret_hash), "created_at": value(record.created_at)}
        if record.expires_at:
            item["key_expires_at"] = value(record.expires_at)
        self.table.put(item)

    def get_access_key(self, key_id: str) -> AccessKeyRecord | None:
        item = self.table.get(keys.AUTH_PK, keys.access_key_sk(key_id))
        return _record(item) if item else None

    def list_access_keys(self, limit: int, last: str | None) -> Page:
        page = self.table.query_page(keys.AUTH_PK, keys.ACCESS_KEY_PREFIX, limit, last)
        return Page([_record(item) for item in page.items], page.last)

    def revoke_access_key(self, key_id: str, now: int) -> bool:
        try:
            self.table.update(keys.AUTH_PK, keys.access_key_sk(key_id),
                              "SET #revoked_at = if_not_exists(#revoked_at, :now)", {"#revoked_at": "revoked_at"},
                              {":now": value(now)}, exists())
        except ConditionFailed:
            return False
        return True

    def touch_access_key(self, key_id: str, now: int, older_than: int) -> None:
        stale = Cond("attribute_not_exists(#last_used) OR #last_used < :old", {"#last_used": "last_used"},
                     {":old": value(older_than)})
        try:
            self.table.update(keys.AUTH_PK, keys.access_key_sk(key_id), "SET #last_used = :now", None,
                              {":now": value(now)}, exists() & stale)
        except ConditionFailed:
            pass

    def get_anonymous_rules(self) -> list[tuple[str, list[str]]]:
        item = self.table.get(keys.AUTH_PK, keys.ANONYMOUS_SK)
        return [tuple(rule) for rule in json.loads(item["rules"]["S"])] if item else []

    def put_anonymous_rules(self, rules: list[tuple[str, list[str]]]) -> None:
        self.table.put({**key(keys.AUTH_PK, keys.ANONYMOUS_SK), "rules": value(json.dumps(rules))})
