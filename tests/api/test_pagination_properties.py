"""Property tests (hypothesis): validation grammars, and pagination that returns every name exactly once,
in order, whatever the page size."""

import re
import uuid
from urllib.parse import parse_qsl

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.domain.names import MAX_NAME_LENGTH, is_tag, validate_name
from dockyard.errors import RegistryError
from dockyard.storage import keys

# The distribution-spec grammars, written out independently of the code under test.
COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"{COMPONENT}(?:/{COMPONENT})*")
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
tags = st.from_regex(TAG, fullmatch=True)
names = st.from_regex(NAME, fullmatch=True).filter(lambda n: len(n) <= MAX_NAME_LENGTH)
text = st.text(alphabet=st.sampled_from("aZ09._-/:@ é\n"), max_size=40)


def name_ok(value: str) -> bool:
    try:
        validate_name(value)
        return True
    except RegistryError:
        return False


@given(names)
def test_names_from_the_grammar_are_accepted(name):
    assert name_ok(name)


@given(text)
def test_a_name_is_accepted_exactly_when_the_grammar_matches(value):
    assert name_ok(value) == bool(NAME.fullmatch(value))


@given(tags)
def test_tags_from_the_grammar_are_accepted(tag):
    assert is_tag(tag)


@given(text)
def test_a_tag_is_accepted_exactly_when_the_grammar_matches(value):
    assert is_tag(value) == bool(TAG.fullmatch(value))


def put_tags(registry, settings_, repo, values):
    """Tag items written straight to the table: a listing reads nothing else."""
    client = registry.storage.blobs.table.client
    for value in values:
        client.put_item(TableName=settings_.table, Item={
            "pk": {"S": keys.repo_pk(repo)}, "sk": {"S": keys.tag_sk(value)},
            "digest": {"S": "sha256:" + "0" * 64}, "media_type": {"S": "application/json"}, "size": {"N": "2"},
            "body": {"B": b"{}"}})


def walk(client, path, key, n):
    seen, params = [], {"n": n}
    while True:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()[key]
        assert len(page) <= n
        seen += page
        if "Link" not in response.headers:
            return seen
        path, _, query = response.headers["Link"].split(";")[0].strip("<>").partition("?")
        params = dict(parse_qsl(query))


# Each example makes real requests to moto: generation time is I/O, not a strategy problem.
SLOW_IO = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_IO)
@given(values=st.sets(tags, min_size=1, max_size=40), n=st.integers(min_value=1, max_value=15))
def test_tag_pages_return_every_tag_once_in_order(client, registry, settings, values, n):
    repo = f"prop/{uuid.uuid4().hex[:12]}"
    put_tags(registry, settings, repo, values)
    assert walk(client, f"/v2/{repo}/tags/list", "tags", n) == sorted(values)


@settings(max_examples=10, deadline=None, suppress_health_check=SLOW_IO)
@given(values=st.sets(names.filter(lambda n: len(n) <= 200), min_size=1, max_size=30),
       n=st.integers(min_value=1, max_value=10))
def test_catalog_pages_return_every_repository_once_in_order(client, registry, settings, values, n):
    prefix = f"p{uuid.uuid4().hex[:10]}/"
    client_ = registry.storage.blobs.table.client
    for value in values:
        client_.put_item(TableName=settings.table, Item={"pk": {"S": keys.CATALOG_PK},
                                                           "sk": {"S": keys.catalog_sk(prefix + value)}})
    listed = [r for r in walk(client, "/v2/_catalog", "repositories", n) if r.startswith(prefix)]
    assert listed == sorted(prefix + v for v in values)
