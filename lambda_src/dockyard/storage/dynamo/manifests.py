"""Manifests, tags, referrer entries and the catalog (`ManifestIndex` on DynamoDB).

A tag item carries a copy of its manifest's fields, so that a pull by tag costs one read. A manifest item
keeps the set of its tags and a version that every tag change bumps, so that a deletion removes exactly
the tags that point to it. Every write that touches more than one item is one transaction, and the one that
creates (or deletes) a manifest counts it in (out of) what it references (`dockyard.storage.dynamo.references`).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from dockyard.domain.digest import Digest
from dockyard.domain.pages import Budget
from dockyard.storage import keys
from dockyard.domain.manifest import Descriptor
from dockyard.storage.dynamo import hints
from dockyard.storage.dynamo.blobs import link_refs
from dockyard.storage.dynamo.references import TRANSACTION_LIMIT, Batches, changes, entry_item
from dockyard.storage.dynamo.table import PK, SK, Change, Cond, Table, absent, b, equals, exists, has, key, n, s, value
from dockyard.storage.types import (BlobRef, ConditionFailed, ManifestInfo, ManifestRecord, ManifestTags, Page,
                                    References, StillReferenced, TagDetail, TagInfo, Uses)

# What a listing for people reads of a tag item, without its body.
_SUMMARY = ("digest", "media_type", "size", "body_location", "subject", "artifact_type", "pushed_at", "last_pulled")


def _values(record: ManifestRecord) -> dict:
    """The manifest's fields, as its item, its tags' items and (but the body) its referrer entry hold them."""
    values = {"digest": str(record.digest), "media_type": record.media_type, "size": record.size}
    if record.body is not None and record.body_location is None:
        values["body"] = record.body
    else:
        values["body_location"] = record.body_location
    if record.subject:
        values["subject"] = str(record.subject)
    if record.artifact_type:
        values["artifact_type"] = record.artifact_type
    if record.hints is not None:
        values.update(hints.attributes(record.hints))
    return values


def _attrs(record: ManifestRecord) -> dict:
    return {k: value(v) for k, v in _values(record).items()}


def _record(item: dict) -> ManifestRecord:
    subject = s(item, "subject")
    return ManifestRecord(digest=Digest.parse(item["digest"]["S"]), media_type=item["media_type"]["S"],
                          size=n(item, "size"), body=b(item, "body"), body_location=s(item, "body_location"),
                          subject=Digest.parse(subject) if subject else None, artifact_type=s(item, "artifact_type"),
                          checked_at=n(item, "checked_at") or None, pushed_at=n(item, "pushed_at"),
                          last_pulled=n(item, "last_pulled") or None, hints=hints.parse(item))


def _info(item: dict) -> ManifestInfo:
    subject = s(item, "subject")
    return ManifestInfo(digest=Digest.parse(item["digest"]["S"]), media_type=item["media_type"]["S"],
                        size=n(item, "size"), tags=sorted(item.get("tags", {}).get("SS", [])),
                        version=n(item, "version"), parents=n(item, "parents"),
                        subject=Digest.parse(subject) if subject else None, artifact_type=s(item, "artifact_type"),
                        pushed_at=n(item, "pushed_at"), untagged_at=n(item, "untagged_at") or None,
                        last_pulled=n(item, "last_pulled") or None, body=b(item, "body"),
                        body_location=s(item, "body_location"), lazy="lazy" in item)


def _referrer(item: dict) -> Descriptor:
    return Descriptor(digest=Digest.parse(item["digest"]["S"]), media_type=item["media_type"]["S"],
                    size=n(item, "size"), artifact_type=s(item, "artifact_type"),
                    annotations=json.loads(s(item, "annotations") or "{}"))


def unparented() -> Cond:
    return Cond("attribute_not_exists(#parents) OR #parents = :zero", {"#parents": "parents"}, {":zero": value(0)})


class DynamoManifests:
    def __init__(self, table: Table):
        self.table = table
        self.batches = Batches(table)

    # --- reads --------------------------------------------------------------------------------------

    def get_manifest(self, repo: str, digest: Digest) -> ManifestRecord | None:
        item = self.table.get_immutable(keys.repo_pk(repo), keys.manifest_sk(digest))
        return _record(item) if item else None

    def get_tag(self, repo: str, tag: str) -> ManifestRecord | None:
        item = self.table.get(keys.repo_pk(repo), keys.tag_sk(tag))
        return _record(item) if item else None

    def list_tags(self, repo: str, limit: int, last: str | None) -> Page:
        return self.table.names(keys.repo_pk(repo), keys.TAG_PREFIX, limit, last)

    def list_repositories(self, limit: int, last: str | None) -> Page:
        return self.table.names(keys.CATALOG_PK, keys.REPO_PREFIX, limit, last)

    def repository_exists(self, repo: str) -> bool:
        return self.table.get(keys.CATALOG_PK, keys.catalog_sk(repo)) is not None

    def list_referrers(self, repo: str, subject: Digest, limit: int, last: str | None,
                       artifact_type: str | None, max_bytes: int) -> Page:
        """Reads on past entries of other artifact types until the page is full, and no further."""
        if limit == 0:
            return Page([], None)
        found: list[Descriptor] = []
        budget = Budget(max_bytes)
        for item in self.table.query_lazily(keys.repo_pk(repo), keys.referrer_sk(subject), last, limit + 1):
            referrer = _referrer(item)
            if artifact_type is not None and referrer.artifact_type != artifact_type:
                continue
            if len(found) == limit or not budget.take(referrer.as_json()):
                return Page(found, str(found[-1].digest))
            found.append(referrer)
        return Page(found, None)

    def list_tag_details(self, repo: str, limit: int, last: str | None, *, bodies: bool = True) -> Page:
        page = self.table.query_page(keys.repo_pk(repo), keys.TAG_PREFIX, limit, last, consistent=True,
                                     attributes=() if bodies else _SUMMARY)
        return Page([TagDetail(item[SK]["S"][len(keys.TAG_PREFIX):], _record(item),
                               n(item, "pushed_at") or None, n(item, "last_pulled") or None)
                     for item in page.items], page.last)

    def get_manifests(self, repo: str, digests: list[Digest]) -> dict[Digest, ManifestRecord]:
        pk = keys.repo_pk(repo)
        items = self.table.batch_get([(pk, keys.manifest_sk(d)) for d in dict.fromkeys(digests)],
                                     (*_SUMMARY, "body", *hints.NAMES))
        return {record.digest: record for record in map(_record, items)}

    def check_references(self, repo: str, blobs, manifests, tags: tuple[str, ...] = (),
                         digest: Digest | None = None) -> References:
        """One BatchGetItem (100 keys per call) for everything a manifest PUT must know before it writes."""
        pk = keys.repo_pk(repo)
        wanted = {(pk, keys.link_sk(d)): d for d in blobs}
        wanted.update({(pk, keys.manifest_sk(d)): d for d in manifests})
        tag_keys = {(pk, keys.tag_sk(tag)): tag for tag in tags}
        own_key = (pk, keys.manifest_sk(digest)) if digest is not None else None
        catalog_key = (keys.CATALOG_PK, keys.catalog_sk(repo))
        found: set[tuple[str, str]] = set()
        current: dict[str, Digest | None] = dict.fromkeys(tags)
        extra = [k for k in (*tag_keys, own_key) if k is not None and k not in wanted]
        body_location, links, config = None, {}, None
        for item in self.table.batch_get([*wanted, *extra, catalog_key],
                                         ("digest", "location", "body_location", "size", hints.CONFIG)):
            item_key = (item[PK]["S"], item[SK]["S"])
            if item_key[1].startswith("blob#"):
                if "location" not in item:
                    continue  # a placeholder link: no bytes yet
                links[wanted[item_key]] = BlobRef(n(item, "size"), item["location"]["S"])
            found.add(item_key)
            if item_key in tag_keys:
                current[tag_keys[item_key]] = Digest.parse(item["digest"]["S"])
            elif item_key == own_key:
                body_location, config = s(item, "body_location"), hints.config(item)
        return References([digest for k, digest in wanted.items() if k not in found], current, catalog_key in found,
                          own_key in found, body_location, links, config)

    # --- writes -------------------------------------------------------------------------------------

    def put_manifest(self, repo: str, record: ManifestRecord, tags: tuple[str, ...], refs: References,
                     uses: Uses = Uses(), lazy: bool = False) -> None:
        pk = keys.repo_pk(repo)
        fields = _attrs(record)
        creating = not refs.exists
        manifest = Change(pk, keys.manifest_sk(record.digest), sets=_values(record),
                          defaults={"pushed_at": record.pushed_at}, adds={"version": 0},
                          removes={"body_location" if "body" in fields else "body",
                                   *(name for name in hints.NAMES if name not in fields)},
                          condition=absent() if creating else exists() & (
                              equals("body_location", refs.body_location) if refs.body_location
                              else has("body_location", False)))  # the body where it was read: counted once
        moved = {tag for tag in tags if refs.tags[tag] != record.digest}
        if moved:
            manifest.adds.update({"version": 1, "tags": moved})
        if lazy and creating:
            manifest.sets["lazy"] = True
            uses = Uses(uses.blobs, (), uses.body)
        changed = [manifest]
        ops = []
        if not refs.listed:
            ops.append(self.table.put_op(key(keys.CATALOG_PK, keys.catalog_sk(repo))))
        left: dict[Digest, set[str]] = {}  # the manifests the moved tags leave
        for tag in tags:
            current = refs.tags[tag]
            unmoved = absent() if current is None else equals("digest", str(current))
            checked = {"checked_at": value(record.checked_at)} if record.checked_at else {}
            ops.append(self.table.put_op({**key(pk, keys.tag_sk(tag)), **fields, **checked,
                                          "pushed_at": value(record.pushed_at)}, unmoved))
            if current is not None and current != record.digest:
                left.setdefault(current, set()).add(tag)
        changed += [self._untag(repo, digest, removed, record.pushed_at) for digest, removed in left.items()]
        if record.subject is not None:
            referrer = {**key(pk, keys.referrer_sk(record.subject, record.digest)),
                        **{k: v for k, v in fields.items() if k not in ("body", "body_location", *hints.NAMES)}}
            if record.annotations:  # only the referrers API shows them
                referrer["annotations"] = value(json.dumps(record.annotations))
            ops.append(self.table.put_op(referrer))
        if refs.exists and record.body_location is not None and refs.body_location is None:
            # A stored manifest's body moves out of its item (a blob of the repository): counted on it now.
            changed.append(link_refs(repo, record.digest, 1, record.pushed_at))
        own = len(ops) + len(changed)
        if creating and uses.count + own > TRANSACTION_LIMIT:
            if record.hints is not None:  # the batches do not check where the links are: no hints then
                return self.put_manifest(repo, replace(record, hints=None), tags, refs, uses, lazy)
            body = {k: v for k, v in fields.items() if k in ("media_type", "body", "body_location")}
            if lazy:
                body["lazy"] = value(True)
            entry = self.batches.count_in(self.batches.pending(repo, record.digest, body, uses.count), uses, lazy)
            ops.append(self.table.delete_op(pk, entry.handle, equals("done", entry.total)))
        elif creating:
            counted = changes(repo, record.digest, uses, 1, record.pushed_at, placeholder=lazy)
            if record.hints is not None:  # each link still where the hints say: not collected and made again
                where = {keys.link_sk(digest): ref.location for digest, ref in record.hints.links}
                for change in counted:
                    if change.pk == pk and change.sk in where:
                        at = equals("location", where[change.sk])
                        change.condition = at if change.condition is None else change.condition & at
            changed += counted
        elif record.hints is not None:  # stored already: each link the hints name still where it was read
            if own + len(record.hints.links) > TRANSACTION_LIMIT:
                return self.put_manifest(repo, replace(record, hints=None), tags, refs, uses, lazy)
            ops += [self.table.condition_check_op(pk, keys.link_sk(digest), equals("location", ref.location))
                    for digest, ref in dict(record.hints.links).items()]
        self.table.transact([*map(self.table.change_op, _merged(changed)), *ops])

    def _untag(self, repo: str, digest: Digest, tags: set[str], now: int) -> Change:
        """Take `tags` out of a manifest's tag set (the manifest must exist) and stamp when that happened
        (once the set is empty, the stamp says since when it is untagged)."""
        return Change(keys.repo_pk(repo), keys.manifest_sk(digest), sets={"untagged_at": now},
                      adds={"version": 1}, deletes={"tags": tags}, condition=exists())

    def record_pull(self, repo: str, reference: Digest | str, digest: Digest, now: int, older_than: int) -> None:
        pk = keys.repo_pk(repo)
        sk = keys.manifest_sk(reference) if isinstance(reference, Digest) else keys.tag_sk(reference)
        stale = Cond("attribute_not_exists(#last_pulled) OR #last_pulled < :old", {"#last_pulled": "last_pulled"},
                     {":old": value(older_than)})
        try:
            self.table.update(pk, sk, "SET #last_pulled = :now", {"#last_pulled": "last_pulled"},
                              {":now": value(now)}, exists() & equals("digest", str(digest)) & stale)
        except ConditionFailed:
            pass  # stamped meanwhile by another pull, or the tag moved, or the manifest went

    def manifest_tags(self, repo: str, digest: Digest) -> ManifestTags | None:
        item = self.table.get(keys.repo_pk(repo), keys.manifest_sk(digest),
                              ("tags", "version", "subject", "parents", "media_type", "body", "body_location", "lazy"))
        if item is None:
            return None
        subject = s(item, "subject")
        return ManifestTags(sorted(item.get("tags", {}).get("SS", [])), n(item, "version"),
                            Digest.parse(subject) if subject else None, n(item, "parents"),
                            s(item, "media_type") or "", b(item, "body"), s(item, "body_location"), "lazy" in item)

    def delete_manifest(self, repo: str, digest: Digest, state: ManifestTags, uses: Uses = Uses(),
                        subject_absent: bool = False) -> None:
        if state.parents:
            raise StillReferenced(state.parents)
        pk, now = keys.repo_pk(repo), int(time.time())
        same_tags = Cond("attribute_not_exists(#version) OR #version = :version", {"#version": "version"},
                         {":version": value(state.version)})
        ops = [self.table.delete_op(pk, keys.manifest_sk(digest), same_tags & unparented())]
        ops += [self.table.delete_op(pk, keys.tag_sk(tag), equals("digest", str(digest))) for tag in state.tags]
        if state.subject is not None:
            ops.append(self.table.delete_op(pk, keys.referrer_sk(state.subject, digest)))
            if subject_absent:
                ops.append(self.table.condition_check_op(pk, keys.manifest_sk(state.subject), absent()))
        batched = len(ops) + uses.count > TRANSACTION_LIMIT
        if batched:
            body = {"media_type": value(state.media_type),
                    **({"body": value(state.body)} if state.body is not None
                       else {"body_location": value(state.body_location)}),
                    **({"lazy": value(True)} if state.lazy else {})}
            handle = keys.unref_sk(digest)
            ops.append(self.table.put_op(entry_item(repo, handle, body, uses.count, now), absent()))
        else:
            ops += [self.table.change_op(c) for c in changes(repo, digest, uses, -1, now)]
        try:
            self.table.transact(ops)
        except ConditionFailed as failed:
            if 0 in failed.failed:
                parents = self.manifest_tags(repo, digest)
                if parents is not None and parents.parents:
                    raise StillReferenced(parents.parents) from None
            raise
        if batched:
            self.batches.pay(self.batches.get(repo, handle), uses)

    def delete_tag(self, repo: str, tag: str, expected: Digest | None = None, pushed_at: int | None = None) -> bool:
        """With `expected` (and `pushed_at`): only while the tag is still that push (else `ConditionFailed`)."""
        pk = keys.repo_pk(repo)
        item = self.table.get(pk, keys.tag_sk(tag))
        if item is None:
            return False
        digest = Digest.parse(item["digest"]["S"])
        if expected is not None and (digest != expected or (pushed_at is not None and n(item, "pushed_at") != pushed_at)):
            raise ConditionFailed()
        condition = equals("digest", str(digest))
        if pushed_at is not None:
            condition = condition & equals("pushed_at", pushed_at)
        self.table.transact([self.table.delete_op(pk, keys.tag_sk(tag), condition),
                             self.table.change_op(self._untag(repo, digest, {tag}, int(time.time())))])
        return True

    def mark_checked(self, repo: str, tag: str, digest: Digest, at: int) -> bool:
        try:
            self.table.update(keys.repo_pk(repo), keys.tag_sk(tag), "SET #checked_at = :at", {"#checked_at": "checked_at"},
                              {":at": value(at)}, exists() & equals("digest", str(digest)))
        except ConditionFailed:
            return False
        return True

    # --- maintenance --------------------------------------------------------------------------------

    def list_manifests(self, repo: str, limit: int, last: str | None) -> Page:
        """Up to `limit` manifests (`ManifestInfo`) after digest `last`, in digest order."""
        page = self.table.query_page(keys.repo_pk(repo), "manifest#", limit, last)
        return Page([_info(item) for item in page.items], page.last)

    def list_tag_infos(self, repo: str, limit: int, last: str | None) -> Page:
        """Up to `limit` tags (`TagInfo`) after `last`, in byte order."""
        page = self.table.query_page(keys.repo_pk(repo), keys.TAG_PREFIX, limit, last)
        return Page([TagInfo(item[SK]["S"][len(keys.TAG_PREFIX):], Digest.parse(item["digest"]["S"]),
                             n(item, "pushed_at"), n(item, "last_pulled") or None) for item in page.items], page.last)


def _merged(changed: list[Change]) -> list[Change]:
    """One change per item (a transaction may touch each item once)."""
    merged: dict[tuple[str, str], Change] = {}
    for change in changed:
        merged[change.key] = merged[change.key].merge(change) if change.key in merged else change
    return list(merged.values())
