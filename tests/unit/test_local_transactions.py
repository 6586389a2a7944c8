"""The embedded moto's transactions (`dockyard.local.transactions`): all or nothing, as DynamoDB's, while
only the items they name are saved for a rollback (not the whole table)."""

import pytest
from botocore.exceptions import ClientError


def _item(pk: str, **attrs) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "x"}, **{k: {"N": str(v)} for k, v in attrs.items()}}


def _get(dynamodb, table: str, pk: str) -> dict | None:
    return dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "x"}}, ConsistentRead=True).get("Item")


def _actions(table: str, last_condition: str) -> list[dict]:
    key = lambda pk: {"pk": {"S": pk}, "sk": {"S": "x"}}  # noqa: E731
    return [
        {"Update": {"TableName": table, "Key": key("a"), "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Update": {"TableName": table, "Key": key("new-by-update"), "UpdateExpression": "SET n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": table, "Item": _item("new-by-put", n=1)}},
        {"Delete": {"TableName": table, "Key": key("c")}},
        {"ConditionCheck": {"TableName": table, "Key": key("d"), "ConditionExpression": last_condition}},
    ]


def test_a_failed_transaction_leaves_every_item_as_it_was_and_a_good_one_changes_them_all(settings):
    from dockyard.local.transactions import install
    from dockyard.storage.aws import make_clients

    install()  # what the embedded server runs (idempotent)
    _, dynamodb = make_clients(settings)
    table = settings.table
    for pk in ("a", "c", "d"):
        dynamodb.put_item(TableName=table, Item=_item(pk, n=1))
    with pytest.raises(ClientError) as failed:
        dynamodb.transact_write_items(TransactItems=_actions(table, "attribute_not_exists(pk)"))
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _get(dynamodb, table, "a") == _item("a", n=1)
    assert _get(dynamodb, table, "new-by-update") is None and _get(dynamodb, table, "new-by-put") is None
    assert _get(dynamodb, table, "c") == _item("c", n=1) and _get(dynamodb, table, "d") == _item("d", n=1)
    dynamodb.transact_write_items(TransactItems=_actions(table, "attribute_exists(pk)"))
    assert _get(dynamodb, table, "a") == _item("a", n=2)
    assert _get(dynamodb, table, "new-by-update") == _item("new-by-update", n=1)
    assert _get(dynamodb, table, "new-by-put") == _item("new-by-put", n=1)
    assert _get(dynamodb, table, "c") is None


def test_a_transaction_naming_one_item_twice_is_refused_and_changes_nothing(settings):
    from dockyard.storage.aws import make_clients

    _, dynamodb = make_clients(settings)
    table = settings.table
    dynamodb.put_item(TableName=table, Item=_item("a", n=1))
    twice = _actions(table, "attribute_exists(pk)")[:1] * 2
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[*_actions(table, "attribute_exists(pk)")[1:3], *twice])
    assert _get(dynamodb, table, "a") == _item("a", n=1)
    assert _get(dynamodb, table, "new-by-update") is None and _get(dynamodb, table, "new-by-put") is None
