"""Upload sessions and their write leases (`UploadSessions` on DynamoDB): one item per session.

A lease is two attributes of the session item (`lock`, the holder's token, and `lock_until`), so taking
one is a single conditional update that also checks the session's kind, repository, expiry and offset.
"""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.resources import Table as Schema
from dockyard.storage import keys
from dockyard.storage.dynamo.table import PK, TTL, Cond, Table, absent, b, equals, key, n, s, value
from dockyard.storage.interfaces import S
from dockyard.storage.types import ChunkedSession, ConditionFailed, DirectSession, Lease

GC_AT = Schema.GC_AT


def _pk(upload_id: str) -> str:
    return keys.upload_pk(upload_id)


def _queued(session) -> dict:
    """A session is in the garbage collector's queue from its expiry on: its leftovers go then."""
    return {Schema.GC_SHARD: value(keys.gc_shard(_pk(session.id), keys.UPLOAD_SK)),
            GC_AT: value(session.expires_at)}


def _held(lease: Lease) -> Cond:
    return equals("lock", lease.token)


def closing(table: Table, lease: Lease) -> dict:
    """The transaction item that deletes a session, on condition that `lease` still holds it."""
    return table.delete_op(_pk(lease.upload_id), keys.UPLOAD_SK, _held(lease))


def session_of(item: dict) -> ChunkedSession | DirectSession:
    upload_id = item[PK]["S"].split("#", 1)[1]
    lock = s(item, "lock")
    common = {"id": upload_id, "repo": item["repo"]["S"], "expires_at": n(item, TTL),
              "lease": Lease(upload_id, lock, n(item, "lock_until")) if lock else None,
              "multipart_id": s(item, "multipart_id")}
    if "digest" in item:
        return DirectSession(**common, digest=Digest.parse(item["digest"]["S"]), size=n(item, "size"),
                             location=item["location"]["S"], part_size=n(item, "part_size"))
    return ChunkedSession(**common, offset=n(item, "offset"), parts=n(item, "parts"), tail=s(item, "tail"),
                          tail_size=n(item, "tail_size"), hash_state=b(item, "hash_state"))


class DynamoUploads:
    def __init__(self, table: Table):
        self.table = table

    def create_chunked(self, session: ChunkedSession) -> None:
        item = {**key(_pk(session.id), keys.UPLOAD_SK), "repo": value(session.repo), "offset": value(0),
                "parts": value(0), TTL: value(session.expires_at), **_queued(session)}
        if session.hash_state:
            item["hash_state"] = value(session.hash_state)
        self.table.put(item, absent())

    def create_direct(self, session: DirectSession, now: int) -> bool:
        item = {**key(_pk(session.id), keys.UPLOAD_SK), "repo": value(session.repo),
                "digest": value(str(session.digest)), "size": value(session.size),
                "location": value(session.location), "part_size": value(session.part_size),
                TTL: value(session.expires_at), **_queued(session)}
        if session.multipart_id:
            item["multipart_id"] = value(session.multipart_id)
        try:
            self.table.put(item, Cond("attribute_not_exists(#pk) OR #ttl < :now", {"#pk": PK, "#ttl": TTL},
                                      {":now": value(now)}))
        except ConditionFailed:
            return False
        return True

    def get_session(self, upload_id: str) -> ChunkedSession | DirectSession | None:
        item = self.table.get(_pk(upload_id), keys.UPLOAD_SK)
        return session_of(item) if item else None

    def take_lease(self, kind: type[S], upload_id: str, repo: str, lease: Lease, now: int,
                   offset: int | None = None) -> S:
        condition = Cond("attribute_exists(#pk) AND #repo = :repo AND #ttl > :now"
                         " AND (attribute_not_exists(#lock) OR #until < :now)"
                         f" AND attribute_{'exists' if kind is DirectSession else 'not_exists'}(#digest)",
                         {"#pk": PK, "#repo": "repo", "#ttl": TTL, "#digest": "digest"},
                         {":now": value(now), ":repo": value(repo)})
        if offset is not None:
            condition = condition & equals("offset", offset)
        try:
            item = self.table.update(_pk(upload_id), keys.UPLOAD_SK, "SET #lock = :lock, #until = :until",
                                     {"#lock": "lock", "#until": "lock_until"},
                                     {":lock": value(lease.token), ":until": value(lease.until)},
                                     condition, new=True, old_on_failure=True)
        except ConditionFailed as failed:
            raise ConditionFailed(session_of(failed.current) if failed.current else None) from None
        return session_of(item)

    def renew_lease(self, lease: Lease) -> None:
        self.table.update(_pk(lease.upload_id), keys.UPLOAD_SK, "SET #until = :until", {"#until": "lock_until"},
                          {":until": value(lease.until)}, _held(lease))

    def release_lease(self, lease: Lease) -> None:
        try:
            self.table.update(_pk(lease.upload_id), keys.UPLOAD_SK, "REMOVE #lock, #until",
                              {"#lock": "lock", "#until": "lock_until"}, None, _held(lease))
        except ConditionFailed:
            pass

    def save_chunked(self, session: ChunkedSession, lease: Lease) -> None:
        fields = {"offset": session.offset, "parts": session.parts, "tail_size": session.tail_size,
                  TTL: session.expires_at, GC_AT: session.expires_at, "multipart_id": session.multipart_id,
                  "tail": session.tail,
                  "hash_state": session.hash_state}
        kept = {name: v for name, v in fields.items() if v or isinstance(v, int)}
        removed = [name for name in fields if name not in kept] + ["lock", "lock_until"]
        expression = (f"SET {', '.join(f'#{name} = :{name}' for name in kept)}"
                      f" REMOVE {', '.join(f'#{name}' for name in removed)}")
        self.table.update(_pk(session.id), keys.UPLOAD_SK, expression,
                          {f"#{name}": name for name in [*kept, *removed]},
                          {f":{name}": value(v) for name, v in kept.items()}, _held(lease))

    def delete_session(self, upload_id: str, lease: Lease | None = None) -> None:
        self.table.delete(_pk(upload_id), keys.UPLOAD_SK, _held(lease) if lease is not None else None)
