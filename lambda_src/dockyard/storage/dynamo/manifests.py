"""Manifests, tags, referrer entries and the catalog (`ManifestIndex` on DynamoDB).

A tag item carries a copy of its manifest's fields, so that a pull by tag costs one read. A manifest item
keeps the set of its tags and a version that every tag change bumps, so that a deletion removes exactly
the tags that point to it. Every write that touches more than one item is one transaction.
"""

from __future__ import annotations

import json
import time

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import PK, SK, Cond, Table, absent, b, equals, exists, key, n, s, value
from dockyard.domain.manifest import Descriptor
from dockyard.domain.pages import Budget
from dockyard.storage.types import ConditionFailed, ManifestRecord, ManifestTags, Page, References, TagDetail

# What a listing for people reads of a tag item, without its body.
_SUMMARY = ("digest", "media_type", "size", "body_in_s3", "subject", "artifact_type", "pushed_at", "last_pulled")


def _attrs(record: ManifestRecord) -> dict:
    """The manifest's fields, as its item, its tags' items and (but the body) its referrer entry hold them."""
    attrs = {"digest": value(str(record.digest)), "media_type": value(record.media_type),
             "size": value(record.size)}
    if record.body is not None and not record.body_in_s3:
        attrs["body"] = value(record.body)
    else:
        attrs["body_in_s3"] = value(True)
    if record.subject:
        attrs["subject"] = value(str(record.subject))
    if record.artifact_type:
        attrs["artifact_type"] = value(record.artifact_type)
    return attrs


def _record(item: dict) -> ManifestRecord:
    subject = s(item, "subject")
    return ManifestRecord(digest=Digest.parse(item["digest"]["S"]), media_type=item["media_type"]["S"],
                          size=n(item, "size"), body=b(item, "body"), body_in_s3="body_in_s3" in item,
                          subject=Digest.parse(subject) if subject else None, artifact_type=s(item, "artifact_type"),
                          checked_at=n(item, "checked_at") or None, pushed_at=n(item, "pushed_at"),
                          last_pulled=n(item, "last_pulled") or None)


def _referrer(item: dict) -> Descriptor:
    return Descriptor(digest=Digest.parse(item["digest"]["S"]), media_type=item["media_type"]["S"],
                    size=n(item, "size"), artifact_type=s(item, "artifact_type"),
                    annotations=json.loads(s(item, "annotations") or "{}"))


class DynamoManifests:
    def __init__(self, table: Table):
        self.table = table

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
        items = self.table.batch_get([(pk, keys.manifest_sk(d)) for d in dict.fromkeys(digests)], (*_SUMMARY, "body"))
        return {record.digest: record for record in map(_record, items)}

    def check_references(self, repo: str, blobs, manifests, tags: tuple[str, ...] = ()) -> References:
        """One BatchGetItem (100 keys per call) for everything a manifest PUT must know before it writes."""
        pk = keys.repo_pk(repo)
        wanted = {(pk, keys.link_sk(d)): d for d in blobs}
        wanted.update({(pk, keys.manifest_sk(d)): d for d in manifests})
        tag_keys = {(pk, keys.tag_sk(tag)): tag for tag in tags}
        catalog_key = (keys.CATALOG_PK, keys.catalog_sk(repo))
        found: set[tuple[str, str]] = set()
        current: dict[str, Digest | None] = dict.fromkeys(tags)
        for item in self.table.batch_get([*wanted, *tag_keys, catalog_key], ("digest",)):
            found.add(item_key := (item[PK]["S"], item[SK]["S"]))
            if item_key in tag_keys:
                current[tag_keys[item_key]] = Digest.parse(item["digest"]["S"])
        return References([digest for k, digest in wanted.items() if k not in found], current, catalog_key in found)

    # --- writes -------------------------------------------------------------------------------------

    def put_manifest(self, repo: str, record: ManifestRecord, tags: tuple[str, ...], refs: References) -> None:
        pk = keys.repo_pk(repo)
        fields = _attrs(record)
        moved = [tag for tag in tags if refs.tags[tag] != record.digest]
        ops = [self._store(pk, record.digest, fields, moved, record.pushed_at)]
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
        ops += [self._untag(repo, digest, removed, record.pushed_at) for digest, removed in left.items()]
        if record.subject is not None:
            referrer = {**key(pk, keys.referrer_sk(record.subject, record.digest)),
                        **{k: v for k, v in fields.items() if k not in ("body", "body_in_s3")}}
            if record.annotations:  # only the referrers API shows them
                referrer["annotations"] = value(json.dumps(record.annotations))
            ops.append(self.table.put_op(referrer))
        self.table.transact(ops)

    def _store(self, pk: str, digest: Digest, fields: dict, tagged: list[str], pushed_at: int | None) -> dict:
        """The transaction item that writes a manifest's fields (stamping its first push) and adds `tagged`
        to its tag set."""
        removed = "body_in_s3" if "body" in fields else "body"
        names = {f"#{k}": k for k in [*fields, removed, "version", "pushed_at"]}
        values = {f":{k}": v for k, v in fields.items()}
        values[":pushed_at"] = value(pushed_at)
        update = (f"SET {', '.join(f'#{k} = :{k}' for k in fields)}, #pushed_at = if_not_exists(#pushed_at, :pushed_at)"
                  f" REMOVE #{removed}")
        if tagged:
            update += " ADD #version :one, #tags :tags"
            values.update({":one": value(1), ":tags": value(set(tagged))})
            names["#tags"] = "tags"
        else:
            update += " ADD #version :zero"
            values[":zero"] = value(0)
        return self.table.update_op(pk, keys.manifest_sk(digest), update, names, values)

    def _untag(self, repo: str, digest: Digest, tags: set[str], now: int) -> dict:
        """The transaction item that takes `tags` out of a manifest's tag set (the manifest must exist) and
        stamps when that happened (once the set is empty, the stamp says since when it is untagged)."""
        return self.table.update_op(keys.repo_pk(repo), keys.manifest_sk(digest),
                                    "DELETE #tags :tags SET #untagged_at = :now ADD #version :one",
                                    {"#tags": "tags", "#version": "version", "#untagged_at": "untagged_at"},
                                    {":tags": value(tags), ":one": value(1), ":now": value(now)}, exists())

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
        item = self.table.get(keys.repo_pk(repo), keys.manifest_sk(digest), ("tags", "version", "subject"))
        if item is None:
            return None
        subject = s(item, "subject")
        return ManifestTags(sorted(item.get("tags", {}).get("SS", [])), n(item, "version"),
                            Digest.parse(subject) if subject else None)

    def delete_manifest(self, repo: str, digest: Digest, state: ManifestTags) -> None:
        pk = keys.repo_pk(repo)
        same_tags = Cond("attribute_not_exists(#version) OR #version = :version", {"#version": "version"},
                         {":version": value(state.version)})
        ops = [self.table.delete_op(pk, keys.manifest_sk(digest), same_tags)]
        ops += [self.table.delete_op(pk, keys.tag_sk(tag), equals("digest", str(digest))) for tag in state.tags]
        if state.subject is not None:
            ops.append(self.table.delete_op(pk, keys.referrer_sk(state.subject, digest)))
        self.table.transact(ops)

    def delete_tag(self, repo: str, tag: str) -> bool:
        pk = keys.repo_pk(repo)
        item = self.table.get(pk, keys.tag_sk(tag))
        if item is None:
            return False
        digest = Digest.parse(item["digest"]["S"])
        self.table.transact([self.table.delete_op(pk, keys.tag_sk(tag), equals("digest", str(digest))),
                             self._untag(repo, digest, {tag}, int(time.time()))])
        return True

    def mark_checked(self, repo: str, tag: str, digest: Digest, at: int) -> bool:
        try:
            self.table.update(keys.repo_pk(repo), keys.tag_sk(tag), "SET #checked_at = :at", {"#checked_at": "checked_at"},
                              {":at": value(at)}, exists() & equals("digest", str(digest)))
        except ConditionFailed:
            return False
        return True
