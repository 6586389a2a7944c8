"""moto's DynamoDB transactions at the cost of the items they touch, not of the whole table.

moto applies a TransactWriteItems by deep-copying every table it names first, so that it can put the copy
back when a condition fails. That costs time in proportion to the table: at a few hundred thousand items
(a registry of 10,000 tags), a transaction takes seconds, and a registry's every push is one. This keeps
moto's own implementation and makes that copy cheap: the tables are not copied (each is "copied" to itself),
and the items the transaction names (one key per action, moto checks that) are saved instead, then put back
if the transaction fails, so that all-or-nothing holds exactly as before.

Safe only because the embedded server applies one DynamoDB request at a time (`motoserver`), as moto's own
table copy already needs. `install()` is idempotent.
"""

from __future__ import annotations

import copy
import functools
import threading

_installed = threading.Lock()
_done = False


def install() -> None:
    global _done
    with _installed:
        if _done:
            return
        from moto.dynamodb.models import DynamoDBBackend

        DynamoDBBackend.transact_write_items = _item_level(DynamoDBBackend.transact_write_items)
        _done = True


def _item_level(transact):
    @functools.wraps(transact)
    def transact_write_items(self, transact_items):
        saved = [_save(self, entry) for entry in transact_items]
        with _tables_not_copied():
            try:
                return transact(self, transact_items)
            except Exception:
                for table, hash_key, range_key, item in reversed([s for s in saved if s is not None]):
                    _restore(table, hash_key, range_key, item)
                raise
    return transact_write_items


def _save(backend, entry: dict):
    """(table, hash key, range key, a copy of the item or None) for one action, or None if moto would refuse
    it before touching anything (an unknown table, a malformed action: moto raises, nothing changed)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        (_, op), = entry.items()
        table = backend.tables[op["TableName"]]
        key = op["Key"] if "Key" in op else op["Item"]
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, ValueError):
        return None
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _restore(table, hash_key, range_key, item) -> None:
    if item is None:
        table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


class _tables_not_copied:
    """While active, `copy.deepcopy(table)` returns the table itself (moto's snapshot of it)."""

    def __enter__(self):
        from moto.dynamodb.models.table import Table

        self._table, self._before = Table, Table.__dict__.get("__deepcopy__")
        Table.__deepcopy__ = lambda table, memo: table
        return self

    def __exit__(self, *_):
        if self._before is None:
            del self._table.__deepcopy__
        else:
            self._table.__deepcopy__ = self._before
