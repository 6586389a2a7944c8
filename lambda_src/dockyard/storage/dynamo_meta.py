"""Registry metadata in one DynamoDB table: links, manifests, tags, catalog and upload sessions.

Every read the pull path makes is a single GetItem; every write that must stay consistent with another is
one TransactWriteItems. See `dockyard.storage.keys` for the layout.

A pull that follows a push (a CI job, then a deploy) must see it at once, whatever instance serves it.
Mutable items (tags, sessions, keys) are read strongly consistently. Immutable ones (a blob link, a manifest
by digest) are read eventually consistently, at half the price, and read again consistently only when the
first read finds nothing: what exists is never wrong, and a miss is checked before it is believed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.domain.digest import Digest
from dockyard.resources import Table
from dockyard.storage import keys
from dockyard.storage.base import (
    AccessKeyRecord,
    BlobRecorded,
    BlobRef,
    ConditionFailed,
    ManifestRecord,
    Page,
    UploadSession,
)

PK, SK, TTL = Table.PARTITION_KEY, Table.SORT_KEY, Table.TTL_ATTRIBUTE
BATCH_GET_LIMIT = 100
TRANSACTION_ATTEMPTS = 5


def _key(pk: str, sk: str) -> dict:
    return {PK: {"S": pk}, SK: {"S": sk}}


def _s(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value else None


def _n(item: dict, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value else default


def _b(item: dict, name: str) -> bytes | None:
    value = item.get(name)
    return bytes(value["B"]) if value else None


@dataclass(frozen=True)
class References:
    """What a manifest PUT learns before it writes (see `DynamoMeta.check_references`)."""

    missing: list[Digest]
    current: Digest | None  # where the tag points now
    listed: bool  # whether the repository is in the catalog already


class DynamoMeta:
    def __init__(self, client, table: str):
        self.client = client
        self.table = table

    def _get(self, pk: str, sk: str) -> dict | None:
        response = self.client.get_item(TableName=self.table, Key=_key(pk, sk), ConsistentRead=True)
        return response.get("Item")

    def _get_immutable(self, pk: str, sk: str) -> dict | None:
        """An item that never changes once written: a cheap read, and a consistent one only on a miss."""
        item = self.client.get_item(TableName=self.table, Key=_key(pk, sk), ConsistentRead=False).get("Item")
        return item if item is not None else self._get(pk, sk)

    def _transact(self, items: list[dict]) -> None:
        """TransactWriteItems. A condition that fails raises `ConditionFailed`; a conflict with another
        transaction in flight on the same items (which botocore does not retry) is retried here."""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                failed = tuple(i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed")
                if failed:
                    raise ConditionFailed(failed=failed) from None
                if "TransactionConflict" not in reasons or attempt == TRANSACTION_ATTEMPTS - 1:
                    raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    # --- blobs ------------------------------------------------------------------------------------------

    @staticmethod
    def _ref(item: dict | None) -> BlobRef | None:
        return BlobRef(_n(item, "size"), item["location"]["S"]) if item else None

    def get_link(self, repo: str, digest: Digest) -> BlobRef | None:
        """The blob as linked into `repo`, or None: one GetItem."""
        return self._ref(self._get_immutable(keys.repo_pk(repo), keys.link_sk(digest)))

    def get_blob(self, digest: Digest) -> BlobRef | None:
        """The blob's global record (stored in S3, whatever repositories link it), or None."""
        return self._ref(self._get(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK))

    def link_blob(self, repo: str, digest: Digest, ref: BlobRef, upload: UploadSession | None = None,
                  record: bool = True, replaces: str | None = None) -> None:
        """Link a blob into `repo`; with `record`, also record it globally, unless another location was
        recorded first (then `BlobRecorded` is raised and nothing is written) other than `replaces` (a
        recorded location whose object is gone); close `upload`, whose lock we must still hold."""
        attrs = {"size": {"N": str(ref.size)}, "location": {"S": ref.location}}
        items = [{"Put": {"TableName": self.table, "Item": {**_key(keys.repo_pk(repo), keys.link_sk(digest)),
                                                            **attrs}}}]
        if record:
            items.append({"Put": {
                "TableName": self.table,
                "Item": {**_key(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK), **attrs},
                "ConditionExpression": "attribute_not_exists(#pk) OR #location IN (:location, :replaces)",
                "ExpressionAttributeNames": {"#pk": PK, "#location": "location"},
                "ExpressionAttributeValues": {":location": {"S": ref.location},
                                              ":replaces": {"S": replaces or ref.location}},
            }})
        if upload is not None:
            items.append({"Delete": {
                "TableName": self.table, "Key": _key(keys.upload_pk(upload.id), keys.UPLOAD_SK),
                "ConditionExpression": "#lock = :lock",
                "ExpressionAttributeNames": {"#lock": "lock"},
                "ExpressionAttributeValues": {":lock": {"S": upload.lock or ""}},
            }})
        if len(items) == 1:
            self.client.put_item(TableName=self.table, Item=items[0]["Put"]["Item"])
            return
        try:
            self._transact(items)
        except ConditionFailed as failed:
            if record and 1 in failed.failed:
                raise BlobRecorded() from None
            raise

    def check_references(self, repo: str, blobs: Iterable[Digest], manifests: Iterable[Digest],
                         tag: str | None = None) -> References:
        """Which of these blobs / manifests are not in `repo`, the digest `tag` points to now, and whether
        the repository is in the catalog yet.

        One BatchGetItem (100 keys per call) for everything a manifest PUT must know before it writes.
        """
        pk = keys.repo_pk(repo)
        wanted = {(pk, keys.link_sk(d)): d for d in blobs}
        wanted.update({(pk, keys.manifest_sk(d)): d for d in manifests})
        tag_key = (pk, keys.tag_sk(tag)) if tag is not None else None
        catalog_key = (keys.CATALOG_PK, keys.catalog_sk(repo))
        found: set[tuple[str, str]] = set()
        current: Digest | None = None
        pending = [_key(*key) for key in [*wanted, *([tag_key] if tag_key else []), catalog_key]]
        while pending:
            batch, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
            request = {self.table: {"Keys": batch, "ProjectionExpression": "#pk, #sk, #digest",
                                    "ExpressionAttributeNames": {"#pk": PK, "#sk": SK, "#digest": "digest"},
                                    "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    key = (item[PK]["S"], item[SK]["S"])
                    found.add(key)
                    if key == tag_key:
                        current = Digest.parse(item["digest"]["S"])
                request = response.get("UnprocessedKeys") or None
        return References([digest for key, digest in wanted.items() if key not in found], current,
                          catalog_key in found)

    # --- manifests and tags -----------------------------------------------------------------------------

    @staticmethod
    def _manifest_attrs(record: ManifestRecord) -> dict:
        attrs = {
            "digest": {"S": str(record.digest)},
            "media_type": {"S": record.media_type},
            "size": {"N": str(record.size)},
        }
        if record.body is not None and not record.body_in_s3:
            attrs["body"] = {"B": record.body}
        else:
            attrs["body_in_s3"] = {"BOOL": True}
        if record.subject:
            attrs["subject"] = {"S": str(record.subject)}
        if record.artifact_type:
            attrs["artifact_type"] = {"S": record.artifact_type}
        return attrs

    @staticmethod
    def _manifest_record(item: dict) -> ManifestRecord:
        subject = _s(item, "subject")
        return ManifestRecord(
            digest=Digest.parse(item["digest"]["S"]),
            media_type=item["media_type"]["S"],
            size=_n(item, "size"),
            body=_b(item, "body"),
            body_in_s3="body_in_s3" in item,
            subject=Digest.parse(subject) if subject else None,
            artifact_type=_s(item, "artifact_type"),
        )

    def get_manifest(self, repo: str, digest: Digest) -> ManifestRecord | None:
        item = self._get_immutable(keys.repo_pk(repo), keys.manifest_sk(digest))
        return self._manifest_record(item) if item else None

    def get_tag(self, repo: str, tag: str) -> ManifestRecord | None:
        """The manifest a tag points to, from the tag item alone: one GetItem."""
        item = self._get(keys.repo_pk(repo), keys.tag_sk(tag))
        return self._manifest_record(item) if item else None

    def put_manifest(self, repo: str, record: ManifestRecord, tag: str | None, refs: References) -> None:
        """Store a manifest, move `tag` to it (from `refs.current`, as read), and write its referrer entry
        (and the catalog entry of a new repository): one transaction. If the tag moved meanwhile,
        `ConditionFailed` is raised and nothing is written; the caller reads again and retries.

        The manifest item keeps the set of its tags and a version that every tag change bumps, so that a
        deletion can remove exactly the tags that point to it (see `delete_manifest`).
        """
        pk, current = keys.repo_pk(repo), refs.current
        attrs = self._manifest_attrs(record)
        fields = dict(attrs)
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in fields.items()}
        update = "SET " + ", ".join(f"#{k} = :{k}" for k in fields)
        removed = {"body_in_s3"} if "body" in fields else {"body"}
        update += " REMOVE " + ", ".join(f"#{k}" for k in removed)
        names.update({f"#{k}": k for k in removed})
        names["#version"] = "version"
        if tag is not None and current != record.digest:
            update += " ADD #version :one, #tags :tag"
            values.update({":one": {"N": "1"}, ":tag": {"SS": [tag]}})
            names["#tags"] = "tags"
        else:
            update += " ADD #version :zero"
            values[":zero"] = {"N": "0"}
        items = [{"Update": {"TableName": self.table, "Key": _key(pk, keys.manifest_sk(record.digest)),
                             "UpdateExpression": update, "ExpressionAttributeNames": names,
                             "ExpressionAttributeValues": values}}]
        if not refs.listed:
            items.append({"Put": {"TableName": self.table, "Item": _key(keys.CATALOG_PK, keys.catalog_sk(repo))}})
        if tag is not None:
            condition = ("attribute_not_exists(#pk)" if current is None else "#digest = :current",
                         {":current": {"S": str(current)}} if current is not None else None)
            put = {"TableName": self.table, "Item": {**_key(pk, keys.tag_sk(tag)), **attrs},
                   "ConditionExpression": condition[0],
                   "ExpressionAttributeNames": {"#pk": PK} if current is None else {"#digest": "digest"}}
            if condition[1]:
                put["ExpressionAttributeValues"] = condition[1]
            items.append({"Put": put})
            if current is not None and current != record.digest:
                items.append(self._untag(repo, current, tag))
        if record.subject is not None:
            referrer = {**_key(pk, keys.referrer_sk(record.subject, record.digest)),
                        **{k: v for k, v in attrs.items() if k not in ("body", "body_in_s3")}}
            if record.annotations:  # only the referrers API shows them
                referrer["annotations"] = {"S": json.dumps(record.annotations)}
            items.append({"Put": {"TableName": self.table, "Item": referrer}})
        self._transact(items)

    def _untag(self, repo: str, digest: Digest, tag: str) -> dict:
        """The transaction item that takes `tag` out of a manifest's tag set (the manifest must exist)."""
        return {"Update": {
            "TableName": self.table, "Key": _key(keys.repo_pk(repo), keys.manifest_sk(digest)),
            "UpdateExpression": "DELETE #tags :tag ADD #version :one",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#tags": "tags", "#version": "version", "#pk": PK},
            "ExpressionAttributeValues": {":tag": {"SS": [tag]}, ":one": {"N": "1"}},
        }}

    def manifest_tags(self, repo: str, digest: Digest) -> tuple[list[str], int, Digest | None] | None:
        """(tags, version, subject) of a stored manifest, read consistently; None if there is none."""
        item = self.client.get_item(
            TableName=self.table, Key=_key(keys.repo_pk(repo), keys.manifest_sk(digest)), ConsistentRead=True,
            ProjectionExpression="#tags, #version, #subject",
            ExpressionAttributeNames={"#tags": "tags", "#version": "version", "#subject": "subject"},
        ).get("Item")
        if item is None:
            return None
        subject = _s(item, "subject")
        return sorted(item.get("tags", {}).get("SS", [])), _n(item, "version"), \
            Digest.parse(subject) if subject else None

    def delete_manifest(self, repo: str, digest: Digest, tags: list[str], version: int,
                        subject: Digest | None) -> None:
        """Delete a manifest with the tags that point to it and its referrer entry, in one transaction, on
        condition that its tag set is still the one read (`version`); else `ConditionFailed`."""
        pk = keys.repo_pk(repo)
        items = [{"Delete": {"TableName": self.table, "Key": _key(pk, keys.manifest_sk(digest)),
                             "ConditionExpression": "attribute_not_exists(#version) OR #version = :version",
                             "ExpressionAttributeNames": {"#version": "version"},
                             "ExpressionAttributeValues": {":version": {"N": str(version)}}}}]
        items += [{"Delete": {"TableName": self.table, "Key": _key(pk, keys.tag_sk(tag)),
                              "ConditionExpression": "#digest = :digest",
                              "ExpressionAttributeNames": {"#digest": "digest"},
                              "ExpressionAttributeValues": {":digest": {"S": str(digest)}}}} for tag in tags]
        if subject is not None:
            items.append({"Delete": {"TableName": self.table, "Key": _key(pk, keys.referrer_sk(subject, digest))}})
        self._transact(items)

    def delete_tag(self, repo: str, tag: str) -> bool:
        """Delete a tag (not its manifest). False if there is no such tag; `ConditionFailed` on a race."""
        pk = keys.repo_pk(repo)
        item = self._get(pk, keys.tag_sk(tag))
        if item is None:
            return False
        digest = Digest.parse(item["digest"]["S"])
        self._transact([
            {"Delete": {"TableName": self.table, "Key": _key(pk, keys.tag_sk(tag)),
                        "ConditionExpression": "#digest = :digest", "ExpressionAttributeNames": {"#digest": "digest"},
                        "ExpressionAttributeValues": {":digest": {"S": str(digest)}}}},
            self._untag(repo, digest, tag),
        ])
        return True

    def unlink_blob(self, repo: str, digest: Digest) -> bool:
        """Remove a blob's link from `repo` (its bytes stay, for garbage collection). False if not linked."""
        try:
            self.client.delete_item(TableName=self.table, Key=_key(keys.repo_pk(repo), keys.link_sk(digest)),
                                    ConditionExpression="attribute_exists(#pk)", ExpressionAttributeNames={"#pk": PK})
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list_referrers(self, repo: str, subject: Digest, limit: int, last: str | None,
                       artifact_type: str | None) -> tuple[list[dict], str | None]:
        """Descriptors of the manifests whose subject is `subject`, in digest order after `last`."""
        prefix = keys.referrer_sk(subject)
        descriptors: list[dict] = []
        cursor = last
        while True:
            page = self._query_page(keys.repo_pk(repo), prefix, limit, cursor)
            for item in page.items:
                if artifact_type is None or _s(item, "artifact_type") == artifact_type:
                    descriptors.append(self._descriptor(item))
            if len(descriptors) >= limit or page.last is None:
                break
            cursor = page.last
        if len(descriptors) > limit:
            descriptors = descriptors[:limit]
            return descriptors, descriptors[-1]["digest"]
        return descriptors, (descriptors[-1]["digest"] if descriptors and page.last else None)

    @staticmethod
    def _descriptor(item: dict) -> dict:
        descriptor = {"mediaType": item["media_type"]["S"], "digest": item["digest"]["S"], "size": _n(item, "size")}
        if _s(item, "artifact_type"):
            descriptor["artifactType"] = item["artifact_type"]["S"]
        annotations = json.loads(_s(item, "annotations") or "{}")
        if annotations:
            descriptor["annotations"] = annotations
        return descriptor

    def _query_page(self, pk: str, prefix: str, limit: int, last: str | None,
                    projection: str | None = None) -> Page:
        """Items whose sort key starts with `prefix`, in order, after `last`; reads at most limit + 1.

        `Page.last` is the key suffix to continue after, when there are more.
        """
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "Limit": limit + 1,
        }
        if projection:
            request["ProjectionExpression"] = projection
        if last is not None:
            request["ExclusiveStartKey"] = _key(pk, prefix + last)
        items: list[dict] = []
        while len(items) <= limit:
            response = self.client.query(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        more = len(items) > limit
        items = items[:limit]
        return Page(items, items[-1][SK]["S"][len(prefix):] if more and items else None)

    def _page(self, pk: str, prefix: str, limit: int, last: str | None) -> Page:
        """Names (sort key suffixes) under `prefix`, in order, after `last`."""
        page = self._query_page(pk, prefix, limit, last, projection="#sk")
        return Page([item[SK]["S"][len(prefix):] for item in page.items], page.last)

    def list_tags(self, repo: str, limit: int, last: str | None) -> Page:
        return self._page(keys.repo_pk(repo), keys.TAG_PREFIX, limit, last)

    def list_repositories(self, limit: int, last: str | None) -> Page:
        return self._page(keys.CATALOG_PK, keys.REPO_PREFIX, limit, last)

    def repository_exists(self, repo: str) -> bool:
        return self._get(keys.CATALOG_PK, keys.catalog_sk(repo)) is not None

    # --- upload sessions --------------------------------------------------------------------------------

    @staticmethod
    def _session(item: dict) -> UploadSession:
        return UploadSession(
            id=item[PK]["S"].split("#", 1)[1],
            repo=item["repo"]["S"],
            offset=_n(item, "offset"),
            parts=_n(item, "parts"),
            multipart_id=_s(item, "multipart_id"),
            tail=_s(item, "tail"),
            tail_size=_n(item, "tail_size"),
            hash_state=_b(item, "hash_state"),
            expires_at=_n(item, TTL),
            lock=_s(item, "lock"),
            lock_until=_n(item, "lock_until"),
            digest=_s(item, "digest"),
            size=_n(item, "size"),
            location=_s(item, "location"),
            part_size=_n(item, "part_size"),
        )

    def create_upload(self, session: UploadSession) -> None:
        item = {**_key(keys.upload_pk(session.id), keys.UPLOAD_SK), "repo": {"S": session.repo},
                "offset": {"N": "0"}, "parts": {"N": "0"}, TTL: {"N": str(session.expires_at)}}
        if session.hash_state:
            item["hash_state"] = {"B": session.hash_state}
        self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(#pk)",
                             ExpressionAttributeNames={"#pk": PK})

    def create_direct(self, session: UploadSession) -> bool:
        """Record a direct upload session; False if one with this id exists already (then resume it)."""
        item = {**_key(keys.upload_pk(session.id), keys.UPLOAD_SK), "repo": {"S": session.repo},
                "digest": {"S": session.digest}, "size": {"N": str(session.size)},
                "location": {"S": session.location}, "part_size": {"N": str(session.part_size)},
                TTL: {"N": str(session.expires_at)}}
        if session.multipart_id:
            item["multipart_id"] = {"S": session.multipart_id}
        try:
            self.client.put_item(TableName=self.table, Item=item,
                                 ConditionExpression="attribute_not_exists(#pk) OR #ttl < :now",
                                 ExpressionAttributeNames={"#pk": PK, "#ttl": TTL},
                                 ExpressionAttributeValues={":now": {"N": str(int(time.time()))}})
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_upload(self, upload_id: str) -> UploadSession | None:
        item = self._get(keys.upload_pk(upload_id), keys.UPLOAD_SK)
        return self._session(item) if item else None

    def lock_upload(self, upload_id: str, repo: str, lock: str, now: int, until: int,
                    offset: int | None) -> UploadSession:
        """Take the session's write lease if it is free (and at `offset`, if given).

        One conditional UpdateItem; on failure `ConditionFailed.current` holds the session as it is.
        """
        condition = ("attribute_exists(#pk) AND #repo = :repo AND #ttl > :now"
                     " AND (attribute_not_exists(#lock) OR #until < :now)")
        names = {"#pk": PK, "#repo": "repo", "#ttl": TTL, "#lock": "lock", "#until": "lock_until"}
        values = {":now": {"N": str(now)}, ":lock": {"S": lock}, ":until": {"N": str(until)},
                  ":repo": {"S": repo}}
        if offset is not None:
            condition += " AND #offset = :offset"
            names["#offset"] = "offset"
            values[":offset"] = {"N": str(offset)}
        try:
            response = self.client.update_item(
                TableName=self.table, Key=_key(keys.upload_pk(upload_id), keys.UPLOAD_SK),
                UpdateExpression="SET #lock = :lock, #until = :until",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item")
            raise ConditionFailed(self._session(item) if item else None) from None
        return self._session(response["Attributes"])

    def renew_lock(self, upload_id: str, lock: str, until: int) -> None:
        self._locked_update(upload_id, lock, "SET #until = :until", {":until": {"N": str(until)}},
                            {"#until": "lock_until"})

    def unlock_upload(self, upload_id: str, lock: str) -> None:
        try:
            self._locked_update(upload_id, lock, "REMOVE #lock, #until", {}, {"#until": "lock_until"})
        except ConditionFailed:
            pass

    def save_upload(self, session: UploadSession) -> None:
        """Write the session's new state and release its lock, if we still hold it."""
        values = {":offset": {"N": str(session.offset)}, ":parts": {"N": str(session.parts)},
                  ":tail_size": {"N": str(session.tail_size)}, ":expires": {"N": str(session.expires_at)}}
        sets = ["#offset = :offset", "#parts = :parts", "#tail_size = :tail_size", "#ttl = :expires"]
        removes = ["#lock", "#until"]
        names = {"#offset": "offset", "#parts": "parts", "#tail_size": "tail_size", "#ttl": TTL,
                 "#until": "lock_until"}
        for name, value in (("multipart_id", session.multipart_id), ("tail", session.tail)):
            names[f"#{name}"] = name
            if value:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = {"S": value}
            else:
                removes.append(f"#{name}")
        names["#hash"] = "hash_state"
        if session.hash_state:
            sets.append("#hash = :hash")
            values[":hash"] = {"B": session.hash_state}
        else:
            removes.append("#hash")
        self._locked_update(session.id, session.lock or "",
                            f"SET {', '.join(sets)} REMOVE {', '.join(removes)}", values, names)

    def delete_upload(self, upload_id: str, lock: str | None = None) -> None:
        """Delete a session; with `lock`, only while that lease still holds it (else `ConditionFailed`)."""
        kwargs = {}
        if lock is not None:
            kwargs = {"ConditionExpression": "#lock = :lock", "ExpressionAttributeNames": {"#lock": "lock"},
                      "ExpressionAttributeValues": {":lock": {"S": lock}}}
        try:
            self.client.delete_item(TableName=self.table, Key=_key(keys.upload_pk(upload_id), keys.UPLOAD_SK),
                                    **kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            raise ConditionFailed() from None

    def _locked_update(self, upload_id: str, lock: str, expression: str, values: dict,
                       names: dict | None = None) -> None:
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(keys.upload_pk(upload_id), keys.UPLOAD_SK),
                UpdateExpression=expression, ConditionExpression="#lock = :lock",
                ExpressionAttributeNames={"#lock": "lock", **(names or {})},
                ExpressionAttributeValues={":lock": {"S": lock}, **values},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise ConditionFailed() from None

    # --- access keys and the anonymous policy -----------------------------------------------------------

    @staticmethod
    def _key_record(item: dict) -> AccessKeyRecord:
        return AccessKeyRecord(
            id=item[SK]["S"][len(keys.ACCESS_KEY_PREFIX):],
            name=item["name"]["S"],
            rules=[tuple(rule) for rule in json.loads(item["rules"]["S"])],
            salt=item["salt"]["S"],
            secret_hash=item["secret_hash"]["S"],
            created_at=_n(item, "created_at"),
            expires_at=_n(item, "key_expires_at") or None,
            last_used=_n(item, "last_used") or None,
            revoked_at=_n(item, "revoked_at") or None,
        )

    def put_access_key(self, record: AccessKeyRecord) -> None:
        item = {**_key(keys.AUTH_PK, keys.access_key_sk(record.id)), "name": {"S": record.name},
                "rules": {"S": json.dumps(record.rules)}, "salt": {"S": record.salt},
                "secret_hash": {"S": record.secret_hash}, "created_at": {"N": str(record.created_at)}}
        if record.expires_at:
            item["key_expires_at"] = {"N": str(record.expires_at)}
        self.client.put_item(TableName=self.table, Item=item)

    def get_access_key(self, key_id: str) -> AccessKeyRecord | None:
        item = self._get(keys.AUTH_PK, keys.access_key_sk(key_id))
        return self._key_record(item) if item else None

    def list_access_keys(self) -> list[AccessKeyRecord]:
        request = {"TableName": self.table, "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                   "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
                   "ExpressionAttributeValues": {":pk": {"S": keys.AUTH_PK},
                                                 ":prefix": {"S": keys.ACCESS_KEY_PREFIX}}}
        records = []
        while True:
            response = self.client.query(**request)
            records += [self._key_record(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return records
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def revoke_access_key(self, key_id: str, now: int) -> bool:
        """Mark a key revoked (kept for the audit trail). False if there is no such key."""
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(keys.AUTH_PK, keys.access_key_sk(key_id)),
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                ConditionExpression="attribute_exists(#pk)", ExpressionAttributeNames={"#pk": PK},
                ExpressionAttributeValues={":now": {"N": str(now)}})
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def touch_access_key(self, key_id: str, now: int, older_than: int) -> None:
        """Record a use of the key, at most once per `older_than` window (a conditional write)."""
        try:
            self.client.update_item(
                TableName=self.table, Key=_key(keys.AUTH_PK, keys.access_key_sk(key_id)),
                UpdateExpression="SET last_used = :now",
                ConditionExpression="attribute_exists(#pk) AND (attribute_not_exists(last_used) OR last_used < :old)",
                ExpressionAttributeNames={"#pk": PK},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":old": {"N": str(older_than)}})
        except self.client.exceptions.ConditionalCheckFailedException:
            pass

    def get_anonymous_rules(self) -> list[tuple[str, list[str]]]:
        item = self._get(keys.AUTH_PK, keys.ANONYMOUS_SK)
        return [tuple(rule) for rule in json.loads(item["rules"]["S"])] if item else []

    def put_anonymous_rules(self, rules: list[tuple[str, list[str]]]) -> None:
        self.client.put_item(TableName=self.table, Item={**_key(keys.AUTH_PK, keys.ANONYMOUS_SK),
                                                          "rules": {"S": json.dumps(rules)}})
