"""The embedded moto's queries (`dockyard.local.queries`): the answers of moto's own Query, page for page,
while only the partition (or, for an index, the unsorted table) is listed."""

from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws

from dockyard.resources import Table

NAME = "queries"


def _filled(dynamodb) -> None:
    dynamodb.create_table(**Table.create_table_kwargs(NAME))
    rng = random.Random(7)
    for n in range(600):
        pk = f"repo#team/app{rng.randrange(6)}"
        sk = f"{rng.choice(['blob#', 'tag#', 'manifest#', 'usage#'])}{rng.randrange(10**6):06d}"
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "size": {"N": str(rng.randrange(100))}}
        if rng.random() < 0.6:
            item[Table.GC_SHARD] = {"S": format(rng.randrange(Table.GC_SHARDS), "x")}
            if rng.random() < 0.7:
                item[Table.GC_AT] = {"N": str(rng.randrange(1000))}
        dynamodb.put_item(TableName=NAME, Item=item)


def _queries() -> list[dict]:
    queries = []
    for r in range(7):  # the seventh partition is empty
        pk = {":pk": {"S": f"repo#team/app{r}"}}
        queries += [
            {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": pk},
            {"KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
             "ExpressionAttributeValues": {**pk, ":p": {"S": "tag#"}}, "Limit": 5},
            {"KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b", "ScanIndexForward": False,
             "ExpressionAttributeValues": {**pk, ":a": {"S": "blob#2"}, ":b": {"S": "tag#5"}}, "Limit": 4},
            {"KeyConditionExpression": "pk = :pk", "FilterExpression": "#n < :s", "Limit": 9,
             "ExpressionAttributeNames": {"#n": "size"}, "ExpressionAttributeValues": {**pk, ":s": {"N": "30"}},
             "ConsistentRead": True},
        ]
    for shard in range(Table.GC_SHARDS):
        queries.append({"IndexName": Table.GC_INDEX, "KeyConditionExpression": "#h = :h AND #r <= :r", "Limit": 3,
                        "ExpressionAttributeNames": {"#h": Table.GC_SHARD, "#r": Table.GC_AT},
                        "ExpressionAttributeValues": {":h": {"S": format(shard, "x")}, ":r": {"N": "600"}}})
    return queries


def _answers(dynamodb) -> list[list[dict]]:
    """Every page of every query, as DynamoDB's answer (items, counts, where the next page starts)."""
    answers = []
    for query in _queries():
        pages, start = [], None
        while True:
            page = dynamodb.query(TableName=NAME, **query, **({"ExclusiveStartKey": start} if start else {}))
            page.pop("ResponseMetadata")
            pages.append(page)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        answers.append(pages)
    return answers


def test_queries_answer_as_moto_does_page_for_page(monkeypatch):
    from moto.dynamodb.models.table import Table as MotoTable

    from dockyard.local.queries import install

    install()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        _filled(dynamodb)
        ours = _answers(dynamodb)
        with monkeypatch.context() as own:
            own.setattr(MotoTable, "query", MotoTable.query.__wrapped__)
            own.setattr(MotoTable, "all_items", MotoTable.all_items.__wrapped__)
            theirs = _answers(dynamodb)
        assert sum(len(pages) for pages in theirs) > len(theirs)  # pages to continue from, too
        assert sum(page["Count"] for pages in theirs for page in pages) > 300
        assert ours == theirs
        scanned = dynamodb.scan(TableName=NAME)["Items"]  # the table itself is still listed whole, in order
        assert len(scanned) == 600 and scanned == sorted(scanned, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


@pytest.mark.parametrize("index", [False, True])
def test_a_query_lists_only_what_it_keeps(monkeypatch, index):
    """What makes it cheap: a Query of the table sees its partition's items only, and nothing is sorted
    before the Query sorts what it keeps."""
    from moto.dynamodb.models.table import Table as MotoTable

    from dockyard.local.queries import install

    install()
    listed = []
    original = MotoTable.all_items

    def counting(self):
        items = original(self)
        listed.append(len(items))
        return items

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        _filled(dynamodb)
        monkeypatch.setattr(MotoTable, "all_items", counting)
        query = _queries()[-1 if index else 0]
        dynamodb.query(TableName=NAME, **query)
    whole = 600
    assert listed and (listed[0] == whole if index else 0 < listed[0] < whole / 3)
