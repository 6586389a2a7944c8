"""moto's DynamoDB queries at the cost of what they keep, not of the whole table.

moto answers every Query by listing the whole table (every item, sorted by its key), then keeping the
partition's items (or the index's) and sorting those again. At a few hundred thousand items (a registry of
10,000 tags) the listing takes about a second, and a garbage collection run or a tag listing makes many
Queries. The first sort is never needed: each Query sorts what it keeps by a key that no two items share.
So while a Query runs, its table lists only the partition's items (a Query of the table: all it would keep
of the listing), or every item unsorted (a Query of an index). The answers are moto's own, item for item
and page for page (`tests/unit/test_local_queries.py` compares them).

Safe for the reason `dockyard.local.transactions` is: the embedded server applies one DynamoDB request at a
time (`motoserver`). `install()` is idempotent.
"""

from __future__ import annotations

import functools
import inspect
import threading

_installed = threading.Lock()
_done = False
_scope = threading.local()  # (table, partition key or _EVERY) while a Query of that table runs
_EVERY = object()


def install() -> None:
    global _done
    with _installed:
        if _done:
            return
        from moto.dynamodb.models.table import Table

        Table.query = _scoped(Table.query)
        Table.all_items = _listing(Table.all_items)
        _done = True


def _scoped(query):
    signature = inspect.signature(query)

    @functools.wraps(query)
    def scoped(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs).arguments
        partition = _EVERY if arguments.get("index_name") else arguments.get("hash_key")
        if partition is None:
            return query(self, *args, **kwargs)
        _scope.current = (self, partition)
        try:
            return query(self, *args, **kwargs)
        finally:
            _scope.current = None
    return scoped


def _listing(all_items):
    @functools.wraps(all_items)
    def listing(self):
        current = getattr(_scope, "current", None)
        if current is None or current[0] is not self:
            return all_items(self)
        partition = current[1]
        if partition is _EVERY:
            groups = self.items.values()
        else:
            found = self.items.get(partition)  # (a defaultdict: `get` adds no partition)
            groups = [] if found is None else [found]
        if self.range_key_attr:
            return [item for group in groups for item in group.values()]
        return list(groups)
    return listing
