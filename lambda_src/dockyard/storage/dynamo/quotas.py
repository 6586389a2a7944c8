"""Storage quotas per namespace (`QuotaStore` on DynamoDB), and the writes that keep their usage exact.

A quota's rule item holds its limit and `used`, the bytes of the distinct blobs linked in its namespace. A
membership item per (quota, blob) counts the blob's links in the namespace. Every link a quota applies to
carries that quota's id in its `quotas` set, so that its removal knows what to count out.

- **Linking** (in the link's own transaction): a blob new to the namespace puts its membership (condition:
  absent) and adds its size to `used`, on the condition that `used <= limit - size` still holds and the rule
  is the one the pusher read; a blob the namespace has adds 1 to its membership (condition: exists). So two
  concurrent pushes can never both take the last bytes: DynamoDB serializes the updates of `used`, and the
  second one's condition fails.
- **Unlinking** (in the unlink's transaction, whoever removes the link: a DELETE, or garbage collection):
  the link's own `quotas` set says which quotas counted it, and their memberships (which name their rule)
  what to count out: each loses 1 (condition: the count read); the last link deletes it and takes the size
  off `used`. `counted_out` builds those items for any transaction that deletes a link.
- **Counting in** what a namespace held before its quota (once, after every instance knows the rule): each
  link that does not carry the id yet gets it, with its membership and `used`, in one transaction
  conditioned on the link existing without the id, so a link is counted once whoever gets there first.
"""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.table import PK, SK, Cond, Table, absent, equals, has, key, n, s, value
from dockyard.storage.types import ConditionFailed, Page, Quota, QuotaExceeded


def _quota(item: dict) -> Quota:
    return Quota(pattern=item[SK]["S"][len(keys.RULE_PREFIX):], limit=n(item, "limit"), id=item["id"]["S"],
                 used=n(item, "used"), created_at=n(item, "created_at"), counting="counting" in item,
                 count_after=n(item, "count_after"), cursor=s(item, "cursor"), deleting="deleting" in item)


def membership_key(quota: Quota, digest: Digest) -> tuple[str, str]:
    return keys.quota_pk(quota.id), keys.link_sk(digest)


def charges(table: Table, quotas: list[Quota], members: dict[str, int], digest: Digest, size: int,
            enforce: bool = True) -> list[dict]:
    """The transaction items that count a new link of `digest` into each quota (`members`: its links there
    now, by quota id; absent if none). With `enforce`, a blob that can never fit raises `QuotaExceeded` at
    once, and one that does not fit now fails the transaction on the rule's item."""
    ops = []
    for quota in quotas:
        pk, sk = membership_key(quota, digest)
        if quota.id in members:
            ops.append(table.update_op(pk, sk, "ADD #links :one", {"#links": "links"}, {":one": value(1)},
                                       equals("links", members[quota.id])))
            continue
        if enforce and size > quota.limit:
            raise QuotaExceeded(quota, size)
        ops.append(table.put_op({**key(pk, sk), "links": value(1), "size": value(size), "pattern": value(quota.pattern)},
                                absent()))
        rule = equals("id", quota.id)
        if enforce:
            rule = rule & equals("limit", quota.limit) & Cond("#used <= :room", {"#used": "used"},
                                                              {":room": value(quota.limit - size)})
        ops.append(_used(table, quota.pattern, quota.id, size, rule))
    return ops


def counted_out(table: Table, link: dict, digest: Digest) -> tuple[Cond, list[dict]]:
    """What a transaction that deletes the link item `link` (as read) adds to count it out of the quotas that
    counted it: a condition for the link's delete (it is counted as read) and the membership and rule items
    (one BatchGetItem, only if a quota counted it)."""
    counted = frozenset(link.get("quotas", {}).get("SS", ()))
    if not counted:
        return Cond("attribute_not_exists(#quotas)", {"#quotas": "quotas"}), []
    same = Cond("size(#quotas) = :counted", {"#quotas": "quotas"}, {":counted": value(len(counted))})
    by_key = {(keys.quota_pk(quota_id), keys.link_sk(digest)): quota_id for quota_id in counted}
    ops = []
    for item in table.batch_get(list(by_key), ("links", "size", "pattern")):
        quota_id, links = by_key[(item[PK]["S"], item[SK]["S"])], n(item, "links")
        pk, sk = keys.quota_pk(quota_id), keys.link_sk(digest)
        if links > 1:
            ops.append(table.update_op(pk, sk, "ADD #links :minus", {"#links": "links"}, {":minus": value(-1)},
                                       equals("links", links)))
            continue
        ops.append(table.delete_op(pk, sk, equals("links", links)))
        ops.append(_used(table, item["pattern"]["S"], quota_id, -n(item, "size"), equals("id", quota_id)))
    return same, ops


def _used(table: Table, pattern: str, quota_id: str, delta: int, condition: Cond) -> dict:
    """Add `delta` to the `used` of the rule `pattern` (while it is the one `quota_id` names: `condition`)."""
    return table.update_op(keys.QUOTA_PK, keys.rule_sk(pattern), "ADD #used :delta", {"#used": "used"},
                           {":delta": value(delta)}, condition)


class DynamoQuotas:
    def __init__(self, table: Table):
        self.table = table

    def list_quotas(self) -> list[Quota]:
        return [_quota(item) for item in self.table.query_all(keys.QUOTA_PK, keys.RULE_PREFIX, consistent=True)]

    def get_quota(self, pattern: str) -> Quota | None:
        item = self.table.get(keys.QUOTA_PK, keys.rule_sk(pattern))
        return _quota(item) if item else None

    def create_quota(self, quota: Quota) -> None:
        item = {**key(keys.QUOTA_PK, keys.rule_sk(quota.pattern)), "limit": value(quota.limit), "id": value(quota.id),
                "used": value(0), "created_at": value(quota.created_at), "counting": value(True),
                "count_after": value(quota.count_after)}
        self.table.put(item, absent())

    def set_limit(self, quota: Quota, limit: int) -> None:
        self.table.update(keys.QUOTA_PK, keys.rule_sk(quota.pattern), "SET #limit = :limit", {"#limit": "limit"},
                          {":limit": value(limit)}, equals("id", quota.id) & Cond("attribute_not_exists(#d)",
                                                                                   {"#d": "deleting"}))

    def save_cursor(self, quota: Quota, cursor: str | None) -> None:
        """Where counting in continues; None: it is done."""
        expression = "SET #cursor = :cursor" if cursor else "REMOVE #cursor, #counting"
        names = {"#cursor": "cursor", **({} if cursor else {"#counting": "counting"})}
        self.table.update(keys.QUOTA_PK, keys.rule_sk(quota.pattern), expression, names,
                          {":cursor": value(cursor)} if cursor else None, equals("id", quota.id))

    def start_delete(self, quota: Quota) -> None:
        self.table.update(keys.QUOTA_PK, keys.rule_sk(quota.pattern), "SET #d = :yes", {"#d": "deleting"},
                          {":yes": value(True)}, equals("id", quota.id))

    def drop_counts(self, quota: Quota, most: int) -> bool:
        """Delete up to `most` of a deleting quota's memberships; once there are none, the rule. True: gone."""
        page = self.table.query_page(keys.quota_pk(quota.id), keys.LINK_PREFIX, most, None, keys_only=True)
        for item in page.items:
            self.table.delete(keys.quota_pk(quota.id), item[SK]["S"])
        if page.last is not None:
            return False
        try:
            self.table.delete(keys.QUOTA_PK, keys.rule_sk(quota.pattern), equals("id", quota.id))
        except ConditionFailed:
            pass  # gone already
        return True

    def memberships(self, quotas: list[Quota], digest: Digest) -> dict[str, int]:
        """How many links `digest` has in each quota that has it, by quota id (one BatchGetItem)."""
        by_key = {membership_key(q, digest): q.id for q in quotas}
        items = self.table.batch_get(list(by_key), ("links",))
        return {by_key[(item[PK]["S"], item[SK]["S"])]: n(item, "links") for item in items}

    def list_links(self, repo: str, limit: int, last: str | None) -> Page:
        """(digest, size, quota ids) of the links among up to `limit` link items of `repo` after digest `last`
        (placeholders hold no bytes: none is counted)."""
        page = self.table.query_page(keys.repo_pk(repo), keys.LINK_PREFIX, limit, last)
        return Page([(Digest.parse(item[SK]["S"][len(keys.LINK_PREFIX):]), n(item, "size"),
                      frozenset(item.get("quotas", {}).get("SS", []))) for item in page.items if "location" in item],
                    page.last)

    def count_link(self, quota: Quota, repo: str, digest: Digest, size: int) -> bool:
        """Count an existing link in (counting in); False if it is counted already, or gone."""
        for _ in range(5):
            members = self.memberships([quota], digest)
            uncounted = has("location") & Cond("NOT contains(#quotas, :id)", {"#quotas": "quotas"},
                                               {":id": value(quota.id)})
            tagged = self.table.update_op(keys.repo_pk(repo), keys.link_sk(digest), "ADD #quotas :ids", None,
                                          {":ids": value({quota.id})}, uncounted)
            try:
                self.table.transact([tagged, *charges(self.table, [quota], members, digest, size, enforce=False)])
            except ConditionFailed as failed:
                if 0 in failed.failed:
                    return False
                continue  # the membership or the rule changed meanwhile: read again
            return True
        raise ConditionFailed()

