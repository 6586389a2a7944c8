"""Scope parsing and policy matching."""

import pytest

from dockyard.auth.policies import ADMIN, Policy, PolicyError, Rule
from dockyard.auth.scopes import Access, challenge_scope, parse_scope


def test_repository_scope():
    assert parse_scope("repository:team/app:pull,push") == [
        Access("repository", "team/app", frozenset({"pull", "push"}))]


def test_several_scopes_in_one_parameter_and_resource_classes():
    assert parse_scope("repository:a:pull repository(plugin):b/c:push registry:catalog:*") == [
        Access("repository", "a", frozenset({"pull"})), Access("repository", "b/c", frozenset({"push"})),
        Access("registry", "catalog", frozenset({"*"}))]


@pytest.mark.parametrize("value", ["", "repository", "repository:name", "repository::pull", ":name:pull",
                                   "repository:name:"])
def test_malformed_scopes_are_dropped(value):
    assert parse_scope(value) == []


def test_challenge_scope():
    assert challenge_scope("team/app", ("pull", "push")) == "repository:team/app:pull,push"


@pytest.mark.parametrize("pattern,repository,matches", [
    ("*", "anything/at/all", True), ("team/*", "team/app", True), ("team/*", "team/app/web", True),
    ("team/*", "team", False), ("team/*", "teams/app", False), ("team/app", "team/app", True),
    ("team/app", "team/app2", False), ("*/web", "a/b/web", True), ("team/app*", "team/application", True),
])
def test_glob_matching(pattern, repository, matches):
    assert Rule.parse(f"{pattern}=pull").matches(repository) is matches


def test_actions_and_implications():
    policy = Policy((Rule.parse("team/*=push"), Rule.parse("ops/*=delete"), Rule.parse("pub/*=pull")))
    assert policy.actions_on("team/app") == {"pull", "push"}
    assert policy.actions_on("ops/x") == {"delete"}
    assert policy.actions_on("pub/x") == {"pull"}
    assert policy.actions_on("other") == set()
    assert not policy.allows("ops/x", "pull")
    assert ADMIN.actions_on("x/y") == {"pull", "push", "delete", "admin"} and ADMIN.is_admin
    assert not Policy((Rule.parse("team/*=admin"),)).is_admin  # admin of some repositories only


def test_rules_from_several_patterns_add_up():
    policy = Policy((Rule.parse("team/*=pull"), Rule.parse("team/app=push")))
    assert policy.actions_on("team/app") == {"pull", "push"}
    assert policy.actions_on("team/other") == {"pull"}


def test_pull_patterns_for_catalog_filtering():
    policy = Policy((Rule.parse("team/*=push"), Rule.parse("ops/*=delete")))
    assert policy.pull_patterns() == ["team/*"]


@pytest.mark.parametrize("text", ["team/*", "team/a?p=pull", "team/*=", "team/*=fly", "Team/*=pull", "=pull", "a b=pull",
                                  "x" * 300 + "=pull"])
def test_bad_rules_are_refused(text):
    with pytest.raises(PolicyError):
        Rule.parse(text)


def test_policy_round_trips_as_data():
    policy = Policy((Rule.parse("team/*=pull,push"), Rule.parse("*=admin")))
    assert Policy.from_data(policy.as_data()) == policy
