"""The one DynamoDB table, as every aggregate uses it: item encoding, conditions, transactions, pagination.

A failed condition always becomes `ConditionFailed` (with the item as it is, where DynamoDB returns it), and
a transaction that conflicts with another in flight is retried here, so no aggregate handles either.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dockyard.resources import Table as Schema
from dockyard.storage.dynamo import getitem
from dockyard.storage.types import ConditionFailed, ItemTooLarge, Page

PK, SK, TTL = Schema.PARTITION_KEY, Schema.SORT_KEY, Schema.TTL_ATTRIBUTE
BATCH_GET_LIMIT = 100
TRANSACTION_ATTEMPTS = 5


def key(pk: str, sk: str) -> dict:
    return {PK: {"S": pk}, SK: {"S": sk}}


def s(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value else None


def n(item: dict, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value else default


def b(item: dict, name: str) -> bytes | None:
    value = item.get(name)
    return bytes(value["B"]) if value else None


def value(v) -> dict:
    """A DynamoDB attribute value: str, int, bytes, bool or a set of strings."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, int):
        return {"N": str(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"B": bytes(v)}
    if isinstance(v, (set, frozenset)):
        return {"SS": sorted(v)}
    return {"S": v}


@dataclass(frozen=True)
class Cond:
    """A condition expression with its placeholders; `a & b` requires both."""

    expression: str
    names: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def __and__(self, other: Cond) -> Cond:
        return Cond(f"{_grouped(self.expression)} AND {_grouped(other.expression)}", {**self.names, **other.names},
                    {**self.values, **other.values})


def _grouped(expression: str) -> str:
    return f"({expression})" if " OR " in expression else expression


def exists() -> Cond:
    return Cond("attribute_exists(#pk)", {"#pk": PK})


def absent() -> Cond:
    return Cond("attribute_not_exists(#pk)", {"#pk": PK})


def equals(attribute: str, v) -> Cond:
    return Cond(f"#{attribute} = :is_{attribute}", {f"#{attribute}": attribute}, {f":is_{attribute}": value(v)})


def has(attribute: str, present: bool = True) -> Cond:
    return Cond(f"attribute_{'exists' if present else 'not_exists'}(#{attribute})", {f"#{attribute}": attribute})


def _too_large(message: str | None) -> bool:
    """DynamoDB's words for a write past its 400 KB item limit (PutItem and UpdateItem say it differently)."""
    return bool(message) and "item size" in message.lower() and "exceeded" in message.lower()


def _raise_if_too_large(exc) -> None:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ValidationException" and _too_large(error.get("Message")):
        raise ItemTooLarge() from None


@dataclass
class Change:
    """One item's UpdateItem, built from clauses, so that two changes of one item in a transaction (which
    DynamoDB refuses) merge into one: `a.merge(b)` applies both, under both conditions."""

    pk: str
    sk: str
    sets: dict = field(default_factory=dict)  # attribute -> value
    defaults: dict = field(default_factory=dict)  # attribute -> value, set only where absent
    adds: dict = field(default_factory=dict)  # attribute -> number, or set of strings
    deletes: dict = field(default_factory=dict)  # attribute -> set of strings
    removes: set = field(default_factory=set)
    condition: Cond | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.pk, self.sk

    def merge(self, other: Change) -> Change:
        both = self.condition & other.condition if self.condition and other.condition else \
            self.condition or other.condition
        adds = dict(self.adds)
        for name, v in other.adds.items():
            adds[name] = adds[name] + v if name in adds and isinstance(v, int) else \
                (set(adds[name]) | set(v) if name in adds else v)
        return Change(self.pk, self.sk, {**self.sets, **other.sets}, {**self.defaults, **other.defaults}, adds,
                      {**self.deletes, **other.deletes}, (self.removes | other.removes) - set(other.sets) - set(self.sets),
                      both)

    def expression(self) -> tuple[str, dict, dict]:
        names, values, clauses = {}, {}, []
        sets = [f"#{a} = :set_{a}" for a in self.sets] + \
               [f"#{a} = if_not_exists(#{a}, :def_{a})" for a in self.defaults]
        values.update({f":set_{a}": value(v) for a, v in self.sets.items()})
        values.update({f":def_{a}": value(v) for a, v in self.defaults.items()})
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(f"#{a}" for a in sorted(self.removes)))
        if self.adds:
            clauses.append("ADD " + ", ".join(f"#{a} :add_{a}" for a in self.adds))
            values.update({f":add_{a}": value(v) for a, v in self.adds.items()})
        if self.deletes:
            clauses.append("DELETE " + ", ".join(f"#{a} :del_{a}" for a in self.deletes))
            values.update({f":del_{a}": value(v) for a, v in self.deletes.items()})
        for a in [*self.sets, *self.defaults, *self.removes, *self.adds, *self.deletes]:
            names[f"#{a}"] = a
        return " ".join(clauses), names, values


class Table:
    def __init__(self, client, name: str):
        self.client = client
        self.name = name

    # --- single items -------------------------------------------------------------------------------

    def get(self, pk: str, sk: str, attributes: tuple[str, ...] = (), consistent: bool = True) -> dict | None:
        """One GetItem; strongly consistent unless asked otherwise; only `attributes`, if named."""
        request = {"TableName": self.name, "Key": key(pk, sk), "ConsistentRead": consistent}
        if attributes:
            request["ProjectionExpression"] = ", ".join(f"#{a}" for a in attributes)
            request["ExpressionAttributeNames"] = {f"#{a}": a for a in attributes}
        return getitem.getter(self.client)(**request).get("Item")

    def get_immutable(self, pk: str, sk: str) -> dict | None:
        """An item that never changes once written: a cheap read, and a consistent one only on a miss (what
        exists is never wrong, and a miss is checked before it is believed)."""
        item = self.get(pk, sk, consistent=False)
        return item if item is not None else self.get(pk, sk)

    def put(self, item: dict, condition: Cond | None = None) -> None:
        self._conditional(self.client.put_item, self.put_op(item, condition)["Put"])

    def update(self, pk: str, sk: str, expression: str, names: dict | None = None, values: dict | None = None,
               condition: Cond | None = None, *, new: bool = False, old_on_failure: bool = False) -> dict | None:
        """One UpdateItem; with `new`, returns the item as written; with `old_on_failure`, a failed
        condition carries the item as it is."""
        request = self.update_op(pk, sk, expression, names, values, condition)["Update"]
        if new:
            request["ReturnValues"] = "ALL_NEW"
        if old_on_failure:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return self._conditional(self.client.update_item, request).get("Attributes")

    def delete(self, pk: str, sk: str, condition: Cond | None = None) -> None:
        self._conditional(self.client.delete_item, self.delete_op(pk, sk, condition)["Delete"])

    def _conditional(self, operation, request: dict) -> dict:
        try:
            return operation(**request)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise ConditionFailed(exc.response.get("Item")) from None
        except self.client.exceptions.ClientError as exc:
            _raise_if_too_large(exc)
            raise

    # --- transactions -------------------------------------------------------------------------------

    def put_op(self, item: dict, condition: Cond | None = None) -> dict:
        return {"Put": self._with(condition, {"TableName": self.name, "Item": item})}

    def update_op(self, pk: str, sk: str, expression: str, names: dict | None = None, values: dict | None = None,
                  condition: Cond | None = None) -> dict:
        request = {"TableName": self.name, "Key": key(pk, sk), "UpdateExpression": expression}
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = dict(values)
        return {"Update": self._with(condition, request)}

    def change_op(self, change: Change) -> dict:
        expression, names, values = change.expression()
        if not expression:  # nothing to write: only a condition to check
            return self.condition_check_op(change.pk, change.sk, change.condition or exists())
        return self.update_op(change.pk, change.sk, expression, names, values, change.condition)

    def apply(self, change: Change, *, new: bool = False) -> dict | None:
        """One UpdateItem for a `Change`."""
        expression, names, values = change.expression()
        return self.update(change.pk, change.sk, expression, names, values, change.condition, new=new)

    def condition_check_op(self, pk: str, sk: str, condition: Cond) -> dict:
        return {"ConditionCheck": self._with(condition, {"TableName": self.name, "Key": key(pk, sk)})}

    def delete_op(self, pk: str, sk: str, condition: Cond | None = None) -> dict:
        return {"Delete": self._with(condition, {"TableName": self.name, "Key": key(pk, sk)})}

    @staticmethod
    def _with(condition: Cond | None, request: dict) -> dict:
        if condition is not None:
            request["ConditionExpression"] = condition.expression
            if condition.names:
                request["ExpressionAttributeNames"] = {**request.get("ExpressionAttributeNames", {}), **condition.names}
            if condition.values:
                request["ExpressionAttributeValues"] = {**request.get("ExpressionAttributeValues", {}),
                                                        **condition.values}
        return request

    def transact(self, ops: list[dict]) -> None:
        """TransactWriteItems, all or nothing. A failed condition raises `ConditionFailed` naming the
        failed items; a conflict with another transaction in flight (which botocore does not retry) is
        retried here."""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=ops)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                failed = tuple(i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed")
                if failed:
                    raise ConditionFailed(failed=failed) from None
                if any(_too_large(r.get("Message")) for r in exc.response.get("CancellationReasons", [])):
                    raise ItemTooLarge() from None
                if "TransactionConflict" not in reasons or attempt == TRANSACTION_ATTEMPTS - 1:
                    raise
            except self.client.exceptions.ClientError as exc:
                _raise_if_too_large(exc)
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    # --- many items ---------------------------------------------------------------------------------

    def batch_get(self, keys: list[tuple[str, str]], attributes: tuple[str, ...]) -> list[dict]:
        """The items that exist among `keys`, read consistently: one BatchGetItem per 100 keys (plus
        retries of unprocessed keys); only the key and `attributes` of each."""
        names = {"#pk": PK, "#sk": SK, **{f"#{a}": a for a in attributes}}
        projection = ", ".join(names)
        found: list[dict] = []
        pending = [key(pk, sk) for pk, sk in keys]
        while pending:
            batch, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
            request = {self.name: {"Keys": batch, "ProjectionExpression": projection,
                                   "ExpressionAttributeNames": names, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                found += response.get("Responses", {}).get(self.name, [])
                request = response.get("UnprocessedKeys") or None
        return found

    def query_page(self, pk: str, prefix: str, limit: int, last: str | None, keys_only: bool = False,
                   attributes: tuple[str, ...] = (), consistent: bool = False) -> Page:
        """Items whose sort key starts with `prefix`, in order, after `prefix + last`; reads at most
        limit + 1. `Page.last` is the sort key suffix to continue after, when there are more. With
        `keys_only` or `attributes`, each item holds only its sort key (and those attributes)."""
        request = {**self._under(pk, prefix), "Limit": limit + 1}
        if consistent:
            request["ConsistentRead"] = True
        if keys_only or attributes:
            request["ProjectionExpression"] = ", ".join(["#sk", *(f"#{a}" for a in attributes)])
            request["ExpressionAttributeNames"].update({f"#{a}": a for a in attributes})
        if last is not None:
            request["ExclusiveStartKey"] = key(pk, prefix + last)
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

    def query_lazily(self, pk: str, prefix: str, last: str | None, batch: int, *, where: Cond | None = None,
                     attributes: tuple[str, ...] = (), consistent: bool = False) -> Iterator[dict]:
        """Items whose sort key starts with `prefix`, in order, after `prefix + last`, read as they are
        consumed: `batch` items (and at most 1 MB) read per Query; only those that match `where` (a filter:
        what it skips is read all the same), and of each only its keys and `attributes`, if named."""
        request = {**self._under(pk, prefix), "Limit": batch, "ConsistentRead": consistent}
        if attributes:
            request["ProjectionExpression"] = ", ".join(["#pk", "#sk", *(f"#{a}" for a in attributes)])
            request["ExpressionAttributeNames"].update({"#sk": SK, **{f"#{a}": a for a in attributes}})
        if where is not None:
            request["FilterExpression"] = where.expression
            request["ExpressionAttributeNames"].update(where.names)
            request.setdefault("ExpressionAttributeValues", {}).update(where.values)
        if last is not None:
            request["ExclusiveStartKey"] = key(pk, prefix + last)
        while True:
            response = self.client.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def names(self, pk: str, prefix: str, limit: int, last: str | None) -> Page:
        """Sort key suffixes under `prefix`, in order, after `last`."""
        page = self.query_page(pk, prefix, limit, last, keys_only=True)
        return Page([item[SK]["S"][len(prefix):] for item in page.items], page.last)

    def query_all(self, pk: str, prefix: str, consistent: bool = False) -> list[dict]:
        """Every item whose sort key starts with `prefix`, in order (read strongly consistently if asked)."""
        request = {**self._under(pk, prefix), "ConsistentRead": consistent}
        items: list[dict] = []
        while True:
            response = self.client.query(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def newest(self, pk: str, prefix: str, limit: int) -> list[dict]:
        """The last `limit` items under `prefix`, in descending order (one Query)."""
        request = {**self._under(pk, prefix), "ScanIndexForward": False, "Limit": limit}
        return self.client.query(**request).get("Items", [])

    def query_index(self, index: str, hash_name: str, hash_value: str, range_name: str, at_most: int,
                    limit: int, start: dict | None = None) -> tuple[list[dict], dict | None]:
        """One page (up to `limit` items) of a sparse index's entries whose range key is at most `at_most`,
        in order; returns (items, the key to continue from or None)."""
        request = {"TableName": self.name, "IndexName": index, "Limit": limit,
                   "KeyConditionExpression": "#h = :h AND #r <= :r",
                   "ExpressionAttributeNames": {"#h": hash_name, "#r": range_name},
                   "ExpressionAttributeValues": {":h": {"S": hash_value}, ":r": {"N": str(at_most)}}}
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        return response.get("Items", []), response.get("LastEvaluatedKey")

    def _under(self, pk: str, prefix: str) -> dict:
        if not prefix:  # the whole partition
            return {"TableName": self.name, "KeyConditionExpression": "#pk = :pk",
                    "ExpressionAttributeNames": {"#pk": PK}, "ExpressionAttributeValues": {":pk": {"S": pk}}}
        return {"TableName": self.name, "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}}}
