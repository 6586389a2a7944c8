"""Blob records and links (`BlobIndex` on DynamoDB).

A link is the repository's item for the blob; the record is the blob's own item, whatever links it. Both
carry the blob's size and location, so that a blob GET presigns from the link alone (one read, no S3 call).
"""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import PK, SK, Cond, Table, exists, key, n, value
from dockyard.storage.dynamo.uploads import closing as closing_op
from dockyard.storage.types import BlobRecorded, BlobRef, ConditionFailed, Lease, LinkTotals


def _ref(item: dict | None) -> BlobRef | None:
    return BlobRef(n(item, "size"), item["location"]["S"]) if item else None


class DynamoBlobs:
    def __init__(self, table: Table):
        self.table = table

    def get_link(self, repo: str, digest: Digest) -> BlobRef | None:
        return _ref(self.table.get_immutable(keys.repo_pk(repo), keys.link_sk(digest)))

    def get_blob(self, digest: Digest) -> BlobRef | None:
        return _ref(self.table.get(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK))

    def link_blob(self, repo: str, digest: Digest, ref: BlobRef, *, record: bool = False,
                  replaces: str | None = None, closing: Lease | None = None) -> None:
        attrs = {"size": value(ref.size), "location": value(ref.location)}
        link = {**key(keys.repo_pk(repo), keys.link_sk(digest)), **attrs}
        ops = [self.table.put_op(link)]
        if record:
            first = Cond("attribute_not_exists(#pk) OR #location IN (:location, :replaces)",
                         {"#pk": PK, "#location": "location"},
                         {":location": value(ref.location), ":replaces": value(replaces or ref.location)})
            ops.append(self.table.put_op({**key(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK), **attrs}, first))
        if closing is not None:
            ops.append(closing_op(self.table, closing))
        if len(ops) == 1:
            self.table.put(link)
            return
        try:
            self.table.transact(ops)
        except ConditionFailed as failed:
            if record and 1 in failed.failed:
                raise BlobRecorded() from None
            raise

    def unlink_blob(self, repo: str, digest: Digest) -> bool:
        try:
            self.table.delete(keys.repo_pk(repo), keys.link_sk(digest), exists())
        except ConditionFailed:
            return False
        return True

    def get_links(self, repo: str, digests: list[Digest]) -> dict[Digest, BlobRef]:
        pk = keys.repo_pk(repo)
        items = self.table.batch_get([(pk, keys.link_sk(d)) for d in dict.fromkeys(digests)], ("size", "location"))
        return {Digest.parse(item[SK]["S"][len(keys.LINK_PREFIX):]): _ref(item) for item in items}

    def link_totals(self, repo: str, most: int) -> LinkTotals:
        page = self.table.query_page(keys.repo_pk(repo), keys.LINK_PREFIX, most, None, attributes=("size",))
        return LinkTotals(len(page.items), sum(n(item, "size") for item in page.items), page.last is None)
