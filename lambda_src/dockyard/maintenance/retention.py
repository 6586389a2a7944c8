"""Retention rules: which tags and manifests of a repository expire, and why (a pure plan; `runs` applies it).

A rule applies to the repositories its glob matches; where several match, the most specific one (the longest
glob, then the first in byte order) applies, so `team/*` can be refined by `team/app`. Within a repository:
- a tag is **in scope** when it matches one of the rule's `tags` patterns (all tags if none), none of its
  `keep_tags`, and is not immutable (an immutability rule covers it); a tag in scope expires when any condition set says so: it is not among the `keep_last`
  newest in scope (by push time; ties by tag, the greater first), it was pushed more than `expire_after`
  ago, or it was not pulled (by that tag or by digest, or pushed) for `unpulled_after`;
- a manifest with tags goes when all its tags expired; an untagged one (listed by no index, referring to no
  subject) when it has been untagged for `untagged_after` or not pulled for `unpulled_after`;
- always kept: every manifest a kept index lists, and every referrer of a kept manifest, recursively;
- what goes with the rest: manifests that only deleted indexes listed, and referrers whose subject is gone
  (deleted now, or absent and the referrer older than the grace period).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from dockyard.domain.digest import Digest
from dockyard.domain.names import is_repository_glob, is_tag_glob, most_specific
from dockyard.errors import Err, RegistryError
from dockyard.storage.types import ManifestInfo, RetentionRule, TagInfo

DAY = 86400
MAX_PATTERNS = 32
MAX_KEEP = 1_000_000  # tags a rule keeps (a number DynamoDB stores exactly; a JSON `true` is no count)
MAX_DURATION = 100 * 365 * DAY


def validated(rule: RetentionRule) -> RetentionRule:
    """The rule, or INVALID_PARAMETER saying what is wrong with it."""
    def bad(detail: str) -> RegistryError:
        return RegistryError(Err.INVALID_PARAMETER, detail)

    if not is_repository_glob(rule.pattern):
        raise bad(f"invalid repository glob {rule.pattern[:300]!r}")
    if rule.keep_last is not None and not _whole(rule.keep_last, 0, MAX_KEEP):
        raise bad(f"keep_last must be a whole number of tags, at most {MAX_KEEP}")
    for name in ("expire_after", "untagged_after", "unpulled_after"):
        v = getattr(rule, name)
        if v is not None and not _whole(v, 1, MAX_DURATION):
            raise bad(f"{name} must be a positive number of seconds, at most {MAX_DURATION} (100 years)")
    for name in ("tags", "keep_tags"):
        patterns = getattr(rule, name)
        if len(patterns) > MAX_PATTERNS or not all(isinstance(p, str) and is_tag_glob(p) for p in patterns):
            raise bad(f"{name} must be at most {MAX_PATTERNS} tag patterns (letters, digits, . _ - * ?)")
    if all(getattr(rule, n) is None for n in ("keep_last", "expire_after", "untagged_after", "unpulled_after")):
        raise bad("a rule needs at least one of keep_last, expire_after, untagged_after, unpulled_after")
    return rule


def _whole(v, least: int, most: int) -> bool:
    """An int (not a bool, which JSON's true would be) from `least` to `most`."""
    return isinstance(v, int) and not isinstance(v, bool) and least <= v <= most


def rule_for(repository: str, rules: list[RetentionRule]) -> RetentionRule | None:
    by_pattern = {rule.pattern: rule for rule in rules}
    return by_pattern.get(most_specific(repository, by_pattern))


@dataclass(frozen=True)
class Manifest:
    """A manifest of the repository as the plan sees it: its stored state, and the children its body lists."""

    info: ManifestInfo
    children: tuple[Digest, ...]


@dataclass
class Plan:
    """What retention deletes in one repository: tags alone (their manifest stays), then manifests (their
    tags with them), in an order that deletes every index before the manifests it lists."""

    tags: list[tuple[TagInfo, str]] = field(default_factory=list)
    manifests: list[tuple[ManifestInfo, str]] = field(default_factory=list)


def _ordinal(rank: int) -> str:
    """`1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`..."""
    suffix = "th" if rank % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix}"


def _ago(seconds: int) -> str:
    return f"{seconds // DAY}d" if seconds >= DAY and seconds % DAY == 0 else f"{seconds}s"


def expired_tags(rule: RetentionRule, tags: list[TagInfo], pulled: dict[Digest, int], now: int,
                 immutable=frozenset()) -> dict[str, str]:
    """The tags in scope that expire, each with its reason (an immutable tag is never in scope)."""
    def in_scope(tag: str) -> bool:
        chosen = not rule.tags or any(fnmatchcase(tag, p) for p in rule.tags)
        return chosen and tag not in immutable and not any(fnmatchcase(tag, p) for p in rule.keep_tags)

    # Newest first; tags pushed in the same second by name, the greater first (v10 after v9 is a guess).
    scoped = sorted((t for t in tags if in_scope(t.tag)), key=lambda t: (t.pushed_at, t.tag), reverse=True)
    reasons: dict[str, str] = {}
    for rank, tag in enumerate(scoped, start=1):
        last_use = max(tag.pushed_at, tag.last_pulled or 0, pulled.get(tag.digest, 0))
        if rule.keep_last is not None and rank > rule.keep_last:
            reasons[tag.tag] = f"keep-last {rule.keep_last}: {_ordinal(rank)} newest"
        elif rule.expire_after is not None and tag.pushed_at < now - rule.expire_after:
            reasons[tag.tag] = f"pushed {_ago(now - tag.pushed_at)} ago: expire-after {_ago(rule.expire_after)}"
        elif rule.unpulled_after is not None and last_use < now - rule.unpulled_after:
            reasons[tag.tag] = f"not pulled for {_ago(now - last_use)}: unpulled-after {_ago(rule.unpulled_after)}"
    return reasons


def plan(rule: RetentionRule, tags: list[TagInfo], manifests: list[Manifest], now: int, grace: int,
         immutable=frozenset()) -> Plan:
    """What `rule` deletes; the tags in `immutable` (immutability rules, `dockyard.registry.immutability`) are
    kept like `keep_tags`, and so are their manifests."""
    by_digest = {m.info.digest: m for m in manifests}
    expired = expired_tags(rule, tags, {m.info.digest: m.info.last_pulled or 0 for m in manifests}, now, immutable)
    tags_of: dict[Digest, list[TagInfo]] = {}
    for tag in tags:
        tags_of.setdefault(tag.digest, []).append(tag)
    listed = {child for m in manifests for child in m.children}
    referrers: dict[Digest, list[Digest]] = {}
    for m in manifests:
        if m.info.subject is not None:
            referrers.setdefault(m.info.subject, []).append(m.info.digest)

    roots, reasons = set(), {}
    for digest, m in by_digest.items():
        own = tags_of.get(digest, [])
        if own:
            if any(t.tag not in expired for t in own):
                roots.add(digest)
            else:
                reasons[digest] = "; ".join(sorted({expired[t.tag] for t in own}))
        elif m.info.subject is None and digest not in listed:
            why = _untagged_expiry(rule, m.info, now)
            if why is None:
                roots.add(digest)
            else:
                reasons[digest] = why
    kept = set()
    todo = list(roots)
    while todo:  # what kept manifests list, and their referrers, are kept too
        digest = todo.pop()
        if digest in kept or digest not in by_digest:
            continue
        kept.add(digest)
        todo += [*by_digest[digest].children, *referrers.get(digest, [])]

    result = Plan()
    result.tags = [(t, expired[t.tag]) for t in tags if t.tag in expired and t.digest in kept]
    deleted = [d for d in by_digest if d not in kept and _goes(by_digest[d], reasons, by_digest, now, grace)]
    for digest in deleted:
        reasons.setdefault(digest, _dependent_reason(by_digest[digest], by_digest, manifests))
    depth = _depths(by_digest)
    for digest in sorted(deleted, key=lambda d: (depth[d], str(d))):
        result.manifests.append((by_digest[digest].info, reasons[digest]))
    return result


def _untagged_expiry(rule: RetentionRule, info: ManifestInfo, now: int) -> str | None:
    untagged_since = max(info.pushed_at, info.untagged_at or 0)
    if rule.untagged_after is not None and untagged_since < now - rule.untagged_after:
        return f"untagged for {_ago(now - untagged_since)}: untagged-after {_ago(rule.untagged_after)}"
    last_use = max(untagged_since, info.last_pulled or 0)
    if rule.unpulled_after is not None and last_use < now - rule.unpulled_after:
        return f"not pulled for {_ago(now - last_use)}: unpulled-after {_ago(rule.unpulled_after)}"
    return None


def _goes(m: Manifest, reasons: dict, by_digest: dict, now: int, grace: int) -> bool:
    """A manifest that is not kept goes if it expired itself, if it is listed (only by indexes that go), or
    if it is a referrer whose subject goes or is gone (for longer than the grace, as far as we can tell)."""
    if m.info.digest in reasons:
        return True
    if m.info.subject is not None:
        return m.info.subject in by_digest or m.info.pushed_at <= now - grace
    return True  # listed by indexes only, none of them kept


def _dependent_reason(m: Manifest, by_digest: dict, manifests: list[Manifest]) -> str:
    if m.info.subject is not None:
        state = "deleted" if m.info.subject in by_digest else "gone"
        return f"referrer of {m.info.subject}, {state}"
    parents = sorted(str(p.info.digest) for p in manifests if m.info.digest in p.children)
    return f"listed only by deleted {', '.join(parents[:3])}" + (" ..." if len(parents) > 3 else "")


def _depths(by_digest: dict[Digest, Manifest]) -> dict[Digest, int]:
    """0 for a manifest no index lists, else one more than the deepest index listing it (cycles are impossible:
    an index cannot list itself by digest)."""
    parents: dict[Digest, list[Digest]] = {}
    for digest, m in by_digest.items():
        for child in m.children:
            parents.setdefault(child, []).append(digest)
    depth: dict[Digest, int] = {}

    def of(digest: Digest, seen: frozenset = frozenset()) -> int:
        if digest not in depth:
            above = [p for p in parents.get(digest, []) if p not in seen]
            depth[digest] = 1 + max((of(p, seen | {digest}) for p in above), default=-1)
        return depth[digest]

    for digest in by_digest:
        of(digest)
    return depth
