"""Upstreams of the pull-through cache and blob fetch claims (`UpstreamStore` on DynamoDB).

Upstreams live under one partition, so that the whole configuration is one query (cached per instance).
Which upstream is the Docker Hub mirror is one more item of that partition, written in the same transaction
as the upstream, so that two admins can never make two mirrors.
"""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import SK, TTL, Cond, Table, absent, equals, key, n, s, value
from dockyard.storage.types import ConditionFailed, UpstreamRecord

# A claim item outlives its lease by this much, then DynamoDB's TTL removes it.
CLAIM_LINGER = 3600


def _record(item: dict) -> UpstreamRecord:
    return UpstreamRecord(name=item[SK]["S"][len(keys.UPSTREAM_PREFIX):], url=item["url"]["S"],
                          mirror=bool(item.get("mirror", {}).get("BOOL")), username=s(item, "username"),
                          secret_id=s(item, "secret_id"), created_at=n(item, "created_at"))


class DynamoUpstreams:
    def __init__(self, table: Table):
        self.table = table

    def put_upstream(self, record: UpstreamRecord) -> UpstreamRecord | None:
        item = {**key(keys.UPSTREAMS_PK, keys.upstream_sk(record.name)), "url": value(record.url),
                "mirror": value(record.mirror), "created_at": value(record.created_at)}
        for name in ("username", "secret_id"):
            if getattr(record, name):
                item[name] = value(getattr(record, name))
        previous = self.table.get(keys.UPSTREAMS_PK, keys.upstream_sk(record.name))
        ops = [self.table.put_op(item, absent() if previous is None else equals("url", previous["url"]["S"])
                                 & equals("created_at", n(previous, "created_at")))]
        mirror_key = key(keys.UPSTREAMS_PK, keys.MIRROR_SK)
        free = Cond("attribute_not_exists(#pk) OR #upstream = :upstream", {"#pk": "pk", "#upstream": "upstream"},
                    {":upstream": value(record.name)})
        if record.mirror:
            ops.append(self.table.put_op({**mirror_key, "upstream": value(record.name)}, free))
        elif previous is not None and previous.get("mirror", {}).get("BOOL"):
            ops.append(self.table.delete_op(keys.UPSTREAMS_PK, keys.MIRROR_SK, equals("upstream", record.name)))
        self.table.transact(ops)
        return _record(previous) if previous else None

    def list_upstreams(self) -> list[UpstreamRecord]:
        return [_record(item) for item in self.table.query_all(keys.UPSTREAMS_PK, keys.UPSTREAM_PREFIX)]

    def delete_upstream(self, name: str) -> UpstreamRecord | None:
        item = self.table.get(keys.UPSTREAMS_PK, keys.upstream_sk(name))
        if item is None:
            return None
        ops = [self.table.delete_op(keys.UPSTREAMS_PK, keys.upstream_sk(name), equals("created_at", n(item, "created_at")))]
        if item.get("mirror", {}).get("BOOL"):
            ops.append(self.table.delete_op(keys.UPSTREAMS_PK, keys.MIRROR_SK, equals("upstream", name)))
        self.table.transact(ops)
        return _record(item)

    def claim_fetch(self, digest: Digest, token: str, until: int, now: int) -> bool:
        free = Cond("attribute_not_exists(#pk) OR #lock_until < :now", {"#pk": "pk", "#lock_until": "lock_until"},
                    {":now": value(now)})
        try:
            self.table.put({**key(keys.fetch_pk(digest), keys.FETCH_SK), "token": value(token),
                            "lock_until": value(until), TTL: value(until + CLAIM_LINGER)}, free)
        except ConditionFailed:
            return False
        return True

    def release_fetch(self, digest: Digest, token: str) -> None:
        try:
            self.table.delete(keys.fetch_pk(digest), keys.FETCH_SK, equals("token", token))
        except ConditionFailed:
            pass
