"""Immutable tags: rules per repository glob, with tag globs that stay mutable (`latest`, `dev-*`).

Where several rules match a repository, the most specific one applies (the longest glob), so that `prod/*`
can be relaxed for `prod/sandbox/*`. Under the rule that applies, a tag that matches none of its mutable
globs cannot be moved to another manifest nor deleted (nor deleted with its manifest); pushing the digest it
points to again succeeds, and so does the first push of a tag.

Enforcement needs no extra state on tags: the rules are read (one query) only when a request would move or
delete a tag that exists, and the write that moves or deletes it is conditioned on the digest that was
checked. So of two concurrent first pushes of one tag exactly one creates it (the other's condition that the
tag is absent fails; it reads again, finds the tag on another digest and is refused), and from then on the
tag never moves while a rule covers it.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

from dockyard.domain.digest import Digest
from dockyard.domain.names import is_repository_glob, is_tag_glob, most_specific
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import GovernanceStore
from dockyard.storage.types import ImmutabilityRule

MAX_MUTABLE_TAGS = 32


def describe(rule: ImmutabilityRule) -> dict:
    return {"pattern": rule.pattern, "mutable_tags": list(rule.mutable_tags), "created_at": rule.created_at}


def applying(rules: list[ImmutabilityRule], repository: str, tag: str) -> ImmutabilityRule | None:
    """The rule that makes `tag` of `repository` immutable, or None if it is mutable."""
    by_pattern = {rule.pattern: rule for rule in rules}
    rule = by_pattern.get(most_specific(repository, by_pattern))
    if rule is None or any(fnmatchcase(tag, pattern) for pattern in rule.mutable_tags):
        return None
    return rule


class Immutability:
    def __init__(self, store: GovernanceStore):
        self.store = store

    def protecting(self, repository: str, tags) -> tuple[str, ImmutabilityRule] | None:
        """The first of `tags` that is immutable, with its rule; None if all are mutable. One query of the
        rules (none for no tags)."""
        tags = sorted(tags)
        if not tags:
            return None
        rules = self.store.list_immutability()
        for tag in tags:
            rule = applying(rules, repository, tag)
            if rule is not None:
                return tag, rule
        return None

    def guard(self, repository: str, tags: dict[str, Digest], action: str) -> None:
        """Refuse (`TAG_IMMUTABLE`) to move or delete (`action`) any of `tags`, which point to these digests."""
        found = self.protecting(repository, tags)
        if found is not None:
            raise refusal(repository, found[0], found[1], tags[found[0]], action)

    def covering(self, repository: str):
        """`rule_of(tag)`: the glob of the rule that makes a tag of `repository` immutable, or None (one query
        of the rules, for a page that shows many tags)."""
        rules = self.store.list_immutability()

        def rule_of(tag: str) -> str | None:
            rule = applying(rules, repository, tag)
            return rule.pattern if rule else None

        return rule_of

    # --- admin --------------------------------------------------------------------------------------

    def list(self) -> list[dict]:
        return [describe(rule) for rule in self.store.list_immutability()]

    def set(self, pattern: str, mutable_tags: list[str]) -> dict:
        """Add the rule for `pattern`, or replace it."""
        if not is_repository_glob(pattern):
            raise RegistryError(Err.INVALID_PARAMETER, f"invalid repository glob {pattern[:300]!r} "
                                                       "(lowercase letters, digits, . _ - / and *)")
        if len(mutable_tags) > MAX_MUTABLE_TAGS or not all(isinstance(p, str) and is_tag_glob(p)
                                                            for p in mutable_tags):
            raise RegistryError(Err.INVALID_PARAMETER, f"mutable_tags must be at most {MAX_MUTABLE_TAGS} tag globs "
                                                       "(letters, digits, . _ - * ?)")
        rule = ImmutabilityRule(pattern, tuple(dict.fromkeys(mutable_tags)), int(time.time()))
        self.store.put_immutability(rule)
        return describe(rule)

    def delete(self, pattern: str) -> dict:
        for rule in self.store.list_immutability():
            if rule.pattern == pattern and self.store.delete_immutability(pattern):
                return describe(rule)
        raise RegistryError(Err.NOT_FOUND, f"no immutability rule for {pattern[:300]!r}")


def refusal(repository: str, tag: str, rule: ImmutabilityRule, digest: Digest, action: str) -> RegistryError:
    return RegistryError(Err.TAG_IMMUTABLE, {"repository": repository, "tag": tag, "digest": str(digest),
                                             "action": action, "rule": rule.pattern,
                                             "mutable_tags": list(rule.mutable_tags)})
