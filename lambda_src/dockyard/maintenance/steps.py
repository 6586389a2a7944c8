"""The writes of a GC run, done (`Live`) or only predicted (`Dry`).

A dry run reads the same items in the same order as a real one and decides the same way; where a real run
writes, it records the effect in an overlay that its later reads see (a link counted out, a record with one
link less, a queue entry a real run would have made), so that it predicts a whole run, cascades included.
"""

from __future__ import annotations

from dataclasses import replace

from dockyard.domain.digest import Digest
from dockyard.storage.interfaces import Storage
from dockyard.storage.types import ConditionFailed, LinkState, ManifestInfo, ManifestTags, QueueEntry, \
    RecordState, StillReferenced, TagInfo, Uses


def state_of(info: ManifestInfo) -> ManifestTags:
    return ManifestTags(info.tags, info.version, info.subject, info.parents, info.media_type, info.body,
                        info.body_location)


class Live:
    """Writes through the storage; each write is conditioned on what was read."""

    dry = False

    def __init__(self, storage: Storage):
        self.storage, self.collector = storage, storage.collector

    def extra_entries(self) -> list[QueueEntry]:
        return []

    def link_state(self, repo: str, digest: Digest) -> LinkState | None:
        return self.collector.link_state(repo, digest)

    def record_state(self, digest: Digest) -> RecordState | None:
        return self.collector.record_state(digest)

    def collect_link(self, repo: str, digest: Digest, since: int, now: int) -> bool:
        return self.collector.collect_link(repo, digest, since, now)

    def keep_link(self, repo: str, digest: Digest, since: int) -> None:
        self.collector.keep_link(repo, digest, since)

    def clear_hints(self, repo: str, digest: Digest, left: str) -> None:
        self.collector.clear_hints(repo, digest, left)

    def doom(self, digest: Digest, since: int) -> str | None:
        return self.collector.doom(digest, since)

    def delete_bytes(self, location: str) -> None:
        self.storage.objects.delete_blob(location)

    def forget_record(self, digest: Digest, stamp: str) -> bool:
        return self.collector.forget_record(digest, stamp)

    def keep_record(self, digest: Digest, since: int) -> None:
        self.collector.keep_record(digest, since)

    def forget_drop(self, location: str) -> None:
        self.collector.forget_drop(location)

    def expire_session(self, upload_id: str, now: int):
        return self.collector.expire_session(upload_id, now)

    def release_session(self, session) -> None:
        """Everything an expired session's upload left: its multipart upload, its tails, its object."""
        objects = self.storage.objects
        location = getattr(session, "location", None) or objects.assembly_location(session.id)
        if session.multipart_id:
            objects.abort_multipart(location, session.multipart_id)
        objects.delete_tails(session.id)
        objects.delete_blob(location)

    def undo_pending(self, entry, uses: Uses) -> bool:
        return self.collector.undo_pending(entry, uses)

    def pay_unref(self, entry, uses: Uses) -> None:
        self.collector.pay_unref(entry, uses)

    def delete_tag(self, repo: str, tag: TagInfo) -> bool:
        try:
            return self.storage.manifests.delete_tag(repo, tag.tag, expected=tag.digest, pushed_at=tag.pushed_at)
        except ConditionFailed:
            return False

    def delete_manifest(self, repo: str, info: ManifestInfo, uses: Uses, subject_absent: bool) -> bool:
        try:
            self.storage.manifests.delete_manifest(repo, info.digest, state_of(info), uses, subject_absent)
        except (ConditionFailed, StillReferenced):
            return False
        return True


class Dry(Live):
    """Reads through the storage, writes into an overlay."""

    dry = True

    def __init__(self, storage: Storage):
        super().__init__(storage)
        self.links: dict[tuple[str, Digest], LinkState | None] = {}
        self.records: dict[Digest, RecordState | None] = {}
        self.queued: list[QueueEntry] = []
        self.deleted: set[tuple[str, Digest]] = set()

    def extra_entries(self) -> list[QueueEntry]:
        entries, self.queued = self.queued, []
        return entries

    def link_state(self, repo, digest):
        if (repo, digest) not in self.links:
            self.links[(repo, digest)] = self.collector.link_state(repo, digest)
        return self.links[(repo, digest)]

    def record_state(self, digest):
        if digest not in self.records:
            self.records[digest] = self.collector.record_state(digest)
        return self.records[digest]

    def collect_link(self, repo, digest, since, now):
        placeholder = self.links.get((repo, digest)) is not None and self.links[(repo, digest)].ref is None
        self.links[(repo, digest)] = None
        record = None if placeholder else self.record_state(digest)
        if record is not None:
            self.records[digest] = replace(record, links=record.links - 1, since=now)
            self.queued.append(QueueEntry("record", now, digest=digest))
        return True

    def keep_link(self, repo, digest, since):
        pass

    def clear_hints(self, repo, digest, left):
        pass

    def doom(self, digest, since):
        return "dry-run"

    def delete_bytes(self, location):
        pass

    def forget_record(self, digest, stamp):
        self.records[digest] = None
        return True

    def keep_record(self, digest, since):
        pass

    def forget_drop(self, location):
        pass

    def expire_session(self, upload_id, now):
        session = self.storage.uploads.get_session(upload_id)
        free = session is not None and (session.lease is None or session.lease.until < now)
        return session if free and session.expires_at <= now else None

    def release_session(self, session):
        pass

    def undo_pending(self, entry, uses):
        self._count(entry.repo, entry.digest, uses, 0, entry.done, coming_in=True)
        return True

    def pay_unref(self, entry, uses):
        self._count(entry.repo, entry.digest, uses, entry.done, entry.total, coming_in=False)

    def delete_tag(self, repo, tag):
        return True

    def delete_manifest(self, repo, info, uses, subject_absent):
        self.deleted.add((repo, info.digest))
        self._count(repo, info.digest, uses, 0, uses.count, coming_in=False)
        return True

    def _count(self, repo: str, digest: Digest, uses: Uses, start: int, stop: int, coming_in: bool) -> None:
        """The links a real run would count out (and queue): references [start, stop) in the storage's order."""
        for is_blob, blob in uses.ordered(digest, coming_in)[start:stop]:
            state = self.link_state(repo, blob) if is_blob else None
            if state is not None:
                self.links[(repo, blob)] = replace(state, refs=state.refs - 1, since=self.now)
                self.queued.append(QueueEntry("link", self.now, repo=repo, digest=blob))

    now = 0  # the run sets it: when overlay entries are queued
