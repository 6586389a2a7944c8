"""The S3 and DynamoDB implementation against its own documentation: every key and every attribute it writes
is the one `dockyard.storage.keys` describes, and the doc names nothing it does not write. Also what only
the S3 side shows: the `unverified` mark, and which tails a session deletes."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.references import entry_item
from dockyard.storage.dynamo.table import value
from dockyard.storage.types import (AccessKeyRecord, BlobRef, ChunkedSession, DirectSession, GcRun, ImmutabilityRule,
                                    Lease, PullHints, Quota, RetentionRule, UpstreamRecord, UsageCounts, Uses)
from tests.storage.conftest import manifest_record, no_references
from tests.support.faults import throttled_filtered_queries

NOW = int(time.time())


PLACEHOLDERS = {"<alg>": "[a-z0-9]+", "<2 hex>": "[0-9a-f]{2}", "<encoded>": "[0-9a-f]+"}


def _pattern(text: str, part: str) -> re.Pattern:
    """A doc path or key as a regex: each `<placeholder>` stands for `part` (or its own, narrower grammar)."""
    pieces = re.split(r"(<[^>]+>)", text)
    return re.compile("".join(PLACEHOLDERS.get(p, part) if p.startswith("<") else re.escape(p) for p in pieces) + r"\Z")


def documented_items() -> list[tuple[re.Pattern, re.Pattern, list[list[tuple[set[str], bool]]]]]:
    """(pk pattern, sk pattern, attribute sets) per DynamoDB entry of the doc; each attribute set is a list
    of (names of which exactly one is present, optional)."""
    doc = keys.__doc__.split("DynamoDB, one table", 1)[1]
    entries = []
    for match in re.finditer(r"^    pk = (\S+), sk = ([^\n]+)\n(.*?)(?=^    pk = |^\S|\Z)", doc, re.M | re.S):
        sets = []
        for braces in re.findall(r"\{([^}]*)\}", match[3]):
            specs = [part.strip() for part in braces.replace("\n", " ").split(",") if part.strip()]
            sets.append([({name.strip().rstrip("?") for name in spec.split("|")}, spec.endswith("?"))
                         for spec in specs])
        entries.append((_pattern(match[1], ".+"), _pattern(match[2], ".+"), sets))
    return entries


def documented_objects() -> list[re.Pattern]:
    s3 = keys.__doc__.split("S3, one bucket:", 1)[1].split("DynamoDB, one table", 1)[0]
    return [_pattern(re.split(r"\s{2,}", line.strip())[0], "[^/]+") for line in s3.splitlines()
            if re.match(r"    \w+/", line)]


def fits(attributes: set[str], specs: list[tuple[set[str], bool]]) -> bool:
    named = set().union(*(names for names, _ in specs))
    return attributes <= named and all(len(names & attributes) == 1 or (optional and not names & attributes)
                                       for names, optional in specs)


def fill(storage, repo: str) -> None:
    """At least one of every item and object kind, with every optional attribute set somewhere."""
    data = b"layer"
    digest = Digest.of(data)
    storage.blobs.link_blob(repo, digest, BlobRef(len(data), storage.objects.put_blob(digest, data)), record=True)
    ref = storage.blobs.get_link(repo, digest)
    base = replace(manifest_record(b'{"base": 1}'), hints=PullHints(((digest, ref),), data))
    storage.manifests.put_manifest(repo, base, ("v1",), no_references(v1=None), Uses(blobs=(digest,)))
    referrer = manifest_record(b'{"sbom": 1}', subject=base.digest, artifact_type="application/sbom",
                               annotations={"a": "b"})
    storage.manifests.put_manifest(repo, replace(referrer, body=None, body_location="blobs/x"), ("sbom",),
                                   no_references(True, sbom=None))
    moved = manifest_record(b'{"moved": 1}')
    storage.manifests.put_manifest(repo, moved, ("m",), no_references(True, m=None))
    storage.manifests.put_manifest(repo, manifest_record(b'{"moved": 2}'), ("m",), no_references(True, m=moved.digest),
                                   Uses(children=(moved.digest,)))  # an index listing it, say
    # A manifest too large for one transaction, stopped halfway (pending), and one being uncounted (unref).
    batches = storage.manifests.batches
    pending = batches.pending(repo, Digest.of(b"big"), {"media_type": value("x"), "body": value(b"{}"),
                                                            "lazy": value(True)}, 1)
    batches.count_in(pending, Uses(blobs=(digest,)))  # counted; the manifest item never came
    table = storage.blobs.table
    table.put(entry_item(repo, keys.unref_sk(Digest.of(b"gone")), {"media_type": value("x"),
                                                                     "body_location": value("blobs/y")}, 2, NOW))
    doomed, other = Digest.of(b"doomed"), Digest.of(b"other")
    storage.blobs.link_blob(repo, doomed, BlobRef(6, storage.objects.put_blob(doomed, b"doomed")), record=True)
    storage.blobs.unlink_blob(repo, doomed)
    storage.collector.doom(doomed, storage.collector.record_state(doomed).since)
    storage.blobs.drop_bytes(other, storage.objects.put_blob(other, b"other"))
    storage.maintenance.put_rule(RetentionRule("team/*", keep_last=2, expire_after=1, untagged_after=1,
                                               unpulled_after=1, keep_tags=("latest",), created_at=NOW))
    run = GcRun(id="r", dry_run=False, grace=0, started_at=NOW)
    storage.maintenance.save_run(run)
    storage.maintenance.add_report(run, 0, [{"action": "unlink"}])
    storage.maintenance.take_lock("r", NOW + 60, NOW)
    storage.manifests.record_pull(repo, "v1", base.digest, NOW, NOW)
    storage.manifests.record_pull(repo, base.digest, base.digest, NOW, NOW)
    plain = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=NOW + 600)
    storage.uploads.create_chunked(plain)
    lease = Lease(plain.id, "t", NOW + 60)
    storage.uploads.take_lease(ChunkedSession, plain.id, repo, lease, NOW)
    location = storage.objects.assembly_location(plain.id)
    multipart_id = storage.objects.start_multipart(location)
    storage.objects.upload_part(location, multipart_id, 1, b"x")
    storage.objects.complete_multipart(location, multipart_id, [storage.objects.list_parts(location, multipart_id)[1].etag])
    storage.uploads.save_chunked(ChunkedSession(id=plain.id, repo=repo, expires_at=NOW + 600, offset=4, parts=1,
                                                multipart_id="mp", tail=storage.objects.put_tail(plain.id, b"t"),
                                                tail_size=1, hash_state=b"h"), lease)
    storage.uploads.take_lease(ChunkedSession, plain.id, repo, lease, NOW)
    sent = DirectSession(id=str(uuid.uuid4()), repo=repo, expires_at=NOW + 600, digest=digest, size=5,
                         location=storage.objects.direct_location("d"), part_size=5 * 1024 * 1024,
                         multipart_id="mp")
    storage.uploads.create_direct(sent, NOW)
    storage.uploads.take_lease(DirectSession, sent.id, repo, Lease(sent.id, "t", NOW + 60), NOW)
    storage.objects.client.put_object(Bucket=storage.objects.bucket, Key=sent.location, Body=b"direct")
    storage.access.put_access_key(AccessKeyRecord(id="dyk_x", name="ci", rules=[("*", ["pull"])], salt="00",
                                                  secret_hash="ab", created_at=1, expires_at=NOW + 60))
    storage.access.touch_access_key("dyk_x", NOW, NOW)
    storage.access.revoke_access_key("dyk_x", NOW)
    storage.access.put_anonymous_rules([("public/*", ["pull"])])
    cached = replace(manifest_record(b'{"cached": 1}'), checked_at=NOW)
    storage.manifests.put_manifest(repo, cached, ("cached",), no_references(True, cached=None),
                                   Uses(blobs=(Digest.of(b"not fetched yet"),)), lazy=True)  # a placeholder link
    storage.manifests.mark_checked(repo, "cached", cached.digest, NOW + 1)
    storage.upstreams.put_upstream(UpstreamRecord(name="hub", url="https://hub.example", mirror=True,
                                                  username="u", secret_id="arn:secret", created_at=1))
    storage.upstreams.claim_fetch(digest, "t", NOW + 60, NOW)
    storage.governance.put_immutability(ImmutabilityRule("prod/*", ("latest",), NOW))
    storage.governance.add_usage(repo, "2026-12-01", UsageCounts(1, 1, 5, 1, NOW, NOW, served=1, served_bytes=3), NOW + 60)
    counted, gone = Quota("team/*", 1000, "q1", count_after=NOW), Quota("old/*", 1000, "q2", count_after=NOW)
    for quota in (counted, gone):
        storage.quotas.create_quota(quota)
    storage.quotas.save_cursor(counted, f"{repo}\0{digest}")
    storage.quotas.start_delete(gone)
    # A link whose bytes were found gone and uploaded again, the clearing of its pull hints cut short.
    lost = Digest.of(b"lost")
    first = BlobRef(4, storage.objects.put_blob(lost, b"lost"))
    storage.blobs.link_blob(repo, lost, first, record=True)
    with throttled_filtered_queries(table.client):
        storage.blobs.link_blob(repo, lost, BlobRef(4, storage.objects.put_blob(lost, b"lost")), record=True,
                                replaces=first.location)
    other = Digest.of(b"quota")
    storage.blobs.link_blob(repo, other, BlobRef(5, storage.objects.put_blob(other, b"quota")), record=True,
                            quotas=(counted,))


def test_every_item_has_the_documented_key_and_attributes(aws_storage):
    fill(aws_storage, "team/app")
    table = aws_storage.blobs.table
    items = table.client.scan(TableName=table.name, ConsistentRead=True)["Items"]
    entries = documented_items()
    assert len(entries) == 23
    seen: set[str] = set()
    for item in items:
        pk, sk = item.pop("pk")["S"], item.pop("sk")["S"]
        [sets] = [sets for pk_pattern, sk_pattern, sets in entries if pk_pattern.match(pk) and sk_pattern.match(sk)]
        assert any(fits(set(item), specs) for specs in sets), (pk, sk, sorted(item))
        seen |= set(item)
    named = {name for _, _, sets in entries for specs in sets for names, _ in specs for name in names}
    assert named == seen  # the doc names nothing that is never written


def test_every_object_key_is_a_documented_one(aws_storage):
    fill(aws_storage, "team/app")
    objects = aws_storage.objects
    listed = [o["Key"] for o in objects.client.list_objects_v2(Bucket=objects.bucket)["Contents"]]
    patterns = documented_objects()
    assert len(patterns) == 4
    matched = [[p.pattern for p in patterns if p.match(key)] for key in listed]
    assert all(len(m) == 1 for m in matched), list(zip(listed, matched))
    assert {m[0] for m in matched} == {p.pattern for p in patterns}


def test_unverified_objects_are_marked_verified_once_linked(aws_storage):
    objects = aws_storage.objects
    location = objects.direct_location(str(uuid.uuid4()))
    multipart_id = objects.start_multipart(location)
    objects.upload_part(location, multipart_id, 1, b"x")
    objects.complete_multipart(location, multipart_id, [objects.list_parts(location, multipart_id)[1].etag])
    tags = objects.client.get_object_tagging(Bucket=objects.bucket, Key=location)["TagSet"]
    assert tags == [{"Key": "dockyard", "Value": "unverified"}]
    objects.mark_verified(location)
    assert objects.client.get_object_tagging(Bucket=objects.bucket, Key=location)["TagSet"] == [
        {"Key": "dockyard", "Value": "verified"}]


def test_a_session_deletes_its_own_tails_only(aws_storage):
    objects = aws_storage.objects
    upload_id = str(uuid.uuid4())
    first, second = objects.put_tail(upload_id, b"one"), objects.put_tail(upload_id, b"two")
    assert first != second and objects.read_tail(upload_id, second) == b"two"
    objects.delete_tail(upload_id, first)
    other = objects.put_tail(str(uuid.uuid4()), b"another session's")
    objects.delete_tails(upload_id)
    listed = objects.client.list_objects_v2(Bucket=objects.bucket, Prefix="uploads/").get("Contents", [])
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == [other]


def test_a_provisioned_bucket_has_the_declared_lifecycle_rules(aws_storage):
    from dockyard.resources import LIFECYCLE_RULES

    objects = aws_storage.objects
    rules = objects.client.get_bucket_lifecycle_configuration(Bucket=objects.bucket)["Rules"]
    assert sorted(rules, key=lambda r: r["ID"]) == sorted((r.as_s3() for r in LIFECYCLE_RULES), key=lambda r: r["ID"])
