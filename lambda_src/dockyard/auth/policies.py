"""Policies: repository globs mapped to actions (`team/*=pull,push`, `*=admin`).

`*` matches any run of characters, `/` included, so `team/*` covers `team/app` and `team/app/web`.
`push` implies `pull` (a client must read what it pushes), and `admin` implies every action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

ACTIONS = ("pull", "push", "delete", "admin")
IMPLIED = {"pull": {"pull"}, "push": {"pull", "push"}, "delete": {"delete"},
           "admin": {"pull", "push", "delete", "admin"}}
_PATTERN = re.compile(r"[a-z0-9._/*-]{1,255}\Z")


class PolicyError(ValueError):
    """A rule that cannot be parsed."""


@dataclass(frozen=True)
class Rule:
    pattern: str
    actions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Rule:
        """`PATTERN=ACTION[,ACTION...]`."""
        pattern, sep, actions = text.partition("=")
        return cls.of(pattern.strip(), [a.strip() for a in actions.split(",")] if sep else [])

    @classmethod
    def of(cls, pattern: str, actions) -> Rule:
        if not _PATTERN.match(pattern):
            raise PolicyError(f"invalid repository pattern {pattern!r}")
        unknown = set(actions) - set(ACTIONS)
        if not actions or unknown:
            raise PolicyError(f"actions must be some of {', '.join(ACTIONS)}; got {sorted(unknown) or 'none'}")
        return cls(pattern, frozenset(actions))

    def matches(self, repository: str) -> bool:
        return fnmatchcase(repository, self.pattern)

    def as_data(self) -> tuple[str, list[str]]:
        return self.pattern, sorted(self.actions)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()

    @classmethod
    def from_data(cls, rules) -> Policy:
        return cls(tuple(Rule.of(pattern, actions) for pattern, actions in rules))

    def actions_on(self, repository: str) -> set[str]:
        granted: set[str] = set()
        for rule in self.rules:
            if rule.matches(repository):
                for action in rule.actions:
                    granted |= IMPLIED[action]
        return granted

    def allows(self, repository: str, action: str) -> bool:
        return action in self.actions_on(repository)

    @property
    def is_admin(self) -> bool:
        return any(rule.pattern == "*" and "admin" in rule.actions for rule in self.rules)

    def pull_patterns(self) -> list[str]:
        return [rule.pattern for rule in self.rules if "pull" in set().union(*(IMPLIED[a] for a in rule.actions))]

    def as_data(self) -> list[tuple[str, list[str]]]:
        return [rule.as_data() for rule in self.rules]


ADMIN = Policy((Rule("*", frozenset({"admin"})),))
