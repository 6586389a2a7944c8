"""Retention planning: which tags and manifests a rule expires, what it always keeps, and the reasons."""

from __future__ import annotations

import pytest

from dockyard.domain.digest import Digest
from dockyard.errors import RegistryError
from dockyard.maintenance.retention import DAY, Manifest, plan, rule_for, validated
from dockyard.storage.types import ManifestInfo, RetentionRule, TagInfo

NOW = 1_000 * DAY
GRACE = DAY


def manifest(name: str, pushed_days_ago: float = 10, tags=(), subject: str | None = None, children=(),
             untagged_days_ago: float | None = None, pulled_days_ago: float | None = None) -> Manifest:
    info = ManifestInfo(digest=D(name), media_type="application/vnd.oci.image.manifest.v1+json", size=1,
                        tags=list(tags), version=1, parents=0, subject=D(subject) if subject else None,
                        artifact_type=None, pushed_at=int(NOW - pushed_days_ago * DAY),
                        untagged_at=int(NOW - untagged_days_ago * DAY) if untagged_days_ago is not None else None,
                        last_pulled=int(NOW - pulled_days_ago * DAY) if pulled_days_ago is not None else None,
                        body=b"{}", body_location=None)
    return Manifest(info, tuple(D(c) for c in children))


def D(name: str) -> Digest:
    return Digest.of(name.encode())


def tag(name: str, of: str, pushed_days_ago: float, pulled_days_ago: float | None = None) -> TagInfo:
    return TagInfo(name, D(of), int(NOW - pushed_days_ago * DAY),
                   int(NOW - pulled_days_ago * DAY) if pulled_days_ago is not None else None)


def names(result) -> tuple[list[str], list[Digest]]:
    return sorted(t.tag for t, _ in result.tags), [m.digest for m, _ in result.manifests]


def test_keep_last_expires_the_older_tags_and_their_manifests():
    tags = [tag(f"v{i}", f"m{i}", pushed_days_ago=10 - i) for i in range(5)]
    manifests = [manifest(f"m{i}", tags=[f"v{i}"]) for i in range(5)]
    result = plan(RetentionRule("r", keep_last=2), tags, manifests, NOW, GRACE)
    assert names(result) == ([], sorted([D("m0"), D("m1"), D("m2")], key=str))
    assert result.manifests[0][1].startswith("keep-last 2: ")


def test_a_manifest_with_one_kept_tag_stays_and_loses_only_its_expired_tags():
    tags = [tag("old", "m", 30), tag("new", "m", 1)]
    result = plan(RetentionRule("r", expire_after=7 * DAY), tags, [manifest("m", tags=["old", "new"])], NOW, GRACE)
    assert names(result) == (["old"], [])
    assert result.tags[0][1] == "pushed 30d ago: expire-after 7d"


def test_keep_tags_and_tags_patterns_choose_what_a_rule_may_expire():
    tags = [tag("latest", "a", 90), tag("v1.0", "b", 90), tag("ci-1", "c", 91), tag("ci-2", "d", 90)]
    manifests = [manifest(x, tags=[t.tag]) for x, t in zip("abcd", tags)]
    rule = RetentionRule("r", expire_after=DAY, keep_tags=("latest", "v*"))
    assert names(plan(rule, tags, manifests, NOW, GRACE))[1] == sorted([D("c"), D("d")], key=str)
    only_ci = RetentionRule("r", keep_last=1, tags=("ci-*",))
    assert names(plan(only_ci, tags, manifests, NOW, GRACE))[1] == [D("c")]  # ci-2 is the newest ci- tag


def test_immutable_tags_are_kept_with_their_manifests_and_not_counted_against_keep_last():
    tags = [tag(f"v{i}", f"m{i}", pushed_days_ago=10 - i) for i in range(4)]
    manifests = [manifest(f"m{i}", tags=[f"v{i}"]) for i in range(4)]
    result = plan(RetentionRule("r", keep_last=1), tags, manifests, NOW, GRACE, immutable={"v0", "v3"})
    assert names(result) == ([], sorted([D("m1")], key=str))  # v2 is the newest mutable tag


def test_unpulled_counts_pulls_by_tag_and_by_digest_and_a_recent_push():
    tags = [tag("stale", "a", 60, pulled_days_ago=40), tag("pulled", "b", 60, pulled_days_ago=2),
            tag("by-digest", "c", 60), tag("fresh", "d", 3)]
    manifests = [manifest("a", tags=["stale"]), manifest("b", tags=["pulled"]),
                 manifest("c", tags=["by-digest"], pulled_days_ago=1), manifest("d", tags=["fresh"])]
    result = plan(RetentionRule("r", unpulled_after=30 * DAY), tags, manifests, NOW, GRACE)
    assert names(result)[1] == [D("a")]
    assert result.manifests[0][1] == "not pulled for 40d: unpulled-after 30d"


def test_untagged_manifests_expire_from_when_they_lost_their_last_tag():
    manifests = [manifest("old", pushed_days_ago=40, untagged_days_ago=20),
                 manifest("recent", pushed_days_ago=40, untagged_days_ago=2), manifest("never", pushed_days_ago=9)]
    result = plan(RetentionRule("r", untagged_after=7 * DAY), [], manifests, NOW, GRACE)
    assert sorted(names(result)[1], key=str) == sorted([D("old"), D("never")], key=str)
    assert plan(RetentionRule("r", keep_last=1), [], manifests, NOW, GRACE).manifests == []  # no untagged rule


def test_a_kept_index_keeps_its_children_and_an_expired_one_takes_them_along_after_itself():
    tags = [tag("new", "index2", 1), tag("old", "index1", 50)]
    manifests = [manifest("index1", tags=["old"], children=["amd1", "shared"]), manifest("amd1"),
                 manifest("index2", tags=["new"], children=["amd2", "shared"]), manifest("amd2"), manifest("shared")]
    result = plan(RetentionRule("r", keep_last=1, untagged_after=DAY), tags, manifests, NOW, GRACE)
    assert names(result)[1] == [D("index1"), D("amd1")]  # the index first: its children are listed until then
    assert result.manifests[1][1] == f"listed only by deleted {D('index1')}"


def test_referrers_of_kept_manifests_stay_and_referrers_of_the_rest_go():
    tags = [tag("v2", "image2", 1), tag("v1", "image1", 50)]
    manifests = [manifest("image1", tags=["v1"]), manifest("sig1", subject="image1"),
                 manifest("image2", tags=["v2"]), manifest("sig2", subject="image2"),
                 manifest("sbom-of-sig2", subject="sig2"),
                 manifest("orphan", subject="never-pushed", pushed_days_ago=3),
                 manifest("early", subject="not-yet", pushed_days_ago=0.1)]
    result = plan(RetentionRule("r", keep_last=1, untagged_after=DAY), tags, manifests, NOW, GRACE)
    assert sorted(names(result)[1], key=str) == sorted([D("image1"), D("sig1"), D("orphan")], key=str)
    reasons = {m.digest: why for m, why in result.manifests}
    assert reasons[D("sig1")] == f"referrer of {D('image1')}, deleted"
    assert reasons[D("orphan")] == f"referrer of {D('never-pushed')}, gone"


def test_the_most_specific_rule_applies():
    rules = [RetentionRule("team/*", keep_last=5), RetentionRule("team/app", keep_last=1), RetentionRule("*", keep_last=9)]
    assert rule_for("team/app", rules).keep_last == 1
    assert rule_for("team/web", rules).keep_last == 5
    assert rule_for("other", rules).keep_last == 9
    assert rule_for("other", rules[:2]) is None


@pytest.mark.parametrize("rule", [
    RetentionRule("team/*"),  # no condition
    RetentionRule("Team/*", keep_last=1),
    RetentionRule("team/*", keep_last=-1),
    RetentionRule("team/*", expire_after=0),
    RetentionRule("team/*", keep_last=1, keep_tags=("bad tag",)),
    RetentionRule("team/*", keep_last=1, tags=tuple(f"t{i}" for i in range(40))),
])
def test_invalid_rules_are_refused(rule):
    with pytest.raises(RegistryError):
        validated(rule)


def test_a_keep_last_reason_names_the_tag_rank_in_english():
    from dockyard.maintenance.retention import _ordinal

    assert [_ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 103, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd", "111th"]
