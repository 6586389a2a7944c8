"""AWS calls per page view, pinned (each page view is one invocation; static files are cached for a year)."""

from tests.support.content import push_full_image, push_index, push_referrer
from tests.ui.conftest import csrf_of, sign_in


def test_the_repository_list_costs_a_catalog_query_and_two_queries_per_repository(ui, calls):
    for repo in ("a/one", "b/two", "c/three"):
        push_full_image(ui, repo, "v1")
    calls.clear()
    assert ui.get("/ui/").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 1 + 2 * 3}


def test_a_repository_page_costs_three_queries_and_a_batch_and_reads_no_config_its_tags_carry(secured, calls):
    """The tags, the immutability rules, its pulls per day, the page's platform manifests; the configs come
    with the tags (their pull hints), so neither their links nor their bytes are read; for an admin, one
    query more: the retention rules."""
    from tests.support.auth import create_key
    from tests.ui.test_ui_maintenance import ADMIN

    for tag, arch in (("v1", "amd64"), ("v2", "arm64")):
        push_full_image(secured, "team/app", tag, arch, layers=(tag.encode() * 100,), headers=ADMIN)
    push_index(secured, "team/app", "multi", headers=ADMIN)
    sign_in(secured)
    secured.get("/ui/")  # the anonymous rules, read once a minute per instance
    calls.clear()
    assert secured.get("/ui/r/team/app").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 4, ("dynamodb", "BatchGetItem"): 1}
    sign_in(secured, *create_key(secured, ADMIN, "reader", "team/*=pull"))
    secured.get("/ui/")
    calls.clear()
    assert secured.get("/ui/r/team/app").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 3, ("dynamodb", "BatchGetItem"): 1}


def test_an_image_page_costs_two_reads_a_query_of_the_rules_and_one_per_referrer_level(ui, calls):
    """Its config comes with the manifest (the pull hints): no link read, no S3 read."""
    subject = push_full_image(ui, "team/app", "v1")
    push_referrer(ui, "team/app", subject, "application/spdx+json")
    calls.clear()
    assert ui.get("/ui/r/team/app/-/manifests/v1").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 2, ("dynamodb", "Query"): 3}


def test_an_image_page_reads_a_config_too_large_to_travel_with_its_manifest(ui, calls):
    """A config over `CONFIG_HINT` is not in the pull hints: its link and its bytes are read, and shown."""
    import json

    from dockyard.registry.hints import CONFIG_HINT
    from tests.support.registry import image_manifest, push_blob

    config = json.dumps({"architecture": "riscv64", "os": "linux", "padding": "x" * CONFIG_HINT}).encode()
    for blob in (config, b"layer" * 100):
        push_blob(ui, "team/big", blob)
    body = image_manifest(config, [b"layer" * 100])
    assert ui.put("/v2/team/big/manifests/v1", content=body,
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).status_code == 201
    calls.clear()
    page = ui.get("/ui/r/team/big/-/manifests/v1")
    assert page.status_code == 200 and "riscv64" in page.text
    assert dict(calls) == {("dynamodb", "GetItem"): 2, ("dynamodb", "BatchGetItem"): 1, ("s3", "GetObject"): 1,
                           ("dynamodb", "Query"): 2}  # the rules, and its referrers


def test_an_index_page_costs_one_batched_read_for_its_platforms(ui, calls):
    push_index(ui, "team/app", "multi")
    calls.clear()
    assert ui.get("/ui/r/team/app/-/manifests/multi").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 2, ("dynamodb", "BatchGetItem"): 1, ("dynamodb", "Query"): 2}


def test_a_signed_in_page_view_verifies_its_session_without_a_read(secured, auth_registry, calls):
    sign_in(secured)
    secured.get("/ui/")  # the anonymous rules, read once a minute per instance
    calls.clear()
    assert secured.get("/ui/admin/").status_code == 200
    assert dict(calls) == {}


def test_static_files_cost_no_aws_call(ui, calls):
    import re

    name = re.search(r"/ui/static/(app\.\w+\.css)", ui.get("/ui/").text)[1]
    calls.clear()
    assert ui.get(f"/ui/static/{name}").status_code == 200
    assert dict(calls) == {}


def test_maintenance_pages_cost_two_queries_to_show_and_one_write_per_change(ui, registry, calls, monkeypatch):
    """The section: the rules and the latest runs (a query each); a rule set or deleted: one write (and the
    page it leads to); a run started: its record (a real run also takes the lease), and one launch of the GC
    function (a Lambda invoke when deployed; here recorded); a run's page: the run and a part of its report."""
    launched = []
    monkeypatch.setattr(registry.maintenance, "launch", launched.append)
    csrf = csrf_of(ui, "/ui/admin/maintenance")
    calls.clear()
    assert ui.get("/ui/admin/maintenance").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 2}
    for path, form, write in (("/ui/admin/maintenance", {"pattern": "team/*", "keep_last": "3"}, "PutItem"),
                              ("/ui/admin/maintenance/delete", {"pattern": "team/*"}, "DeleteItem")):
        if write == "DeleteItem":  # its confirmation reads the rules
            calls.clear()
            assert ui.get(path, params=form).status_code == 200
            assert dict(calls) == {("dynamodb", "Query"): 1}
        calls.clear()
        assert ui.post(path, data={"csrf": csrf, **form}, follow_redirects=False).status_code == 303
        assert dict(calls) == {("dynamodb", write): 1}
    calls.clear()
    assert ui.get("/ui/admin/maintenance/gc").status_code == 200
    assert dict(calls) == {}
    for dry_run, writes in (("1", 1), ("0", 2)):
        calls.clear()
        started = ui.post("/ui/admin/maintenance/gc", data={"csrf": csrf, "dry_run": dry_run}, follow_redirects=False)
        assert started.status_code == 303 and len(launched) == writes
        assert dict(calls) == {("dynamodb", "PutItem"): writes}
    calls.clear()
    assert ui.get(started.headers["location"]).status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 2}


def test_quota_pages_cost_a_query_to_show_and_a_few_items_per_change(ui, calls):
    """The quotas (one query); a new quota: read it, count the quotas, write it, read it back (as the API's
    PUT); a new limit: read, update, read back; a delete: read, mark, one page of its counts, delete."""
    push_full_image(ui, "a/one", "v1")
    csrf = csrf_of(ui, "/ui/admin/quotas")
    steps = ((lambda: ui.get("/ui/admin/quotas"), 200, {("dynamodb", "Query"): 1}),
             (lambda: ui.post("/ui/admin/quotas", data={"csrf": csrf, "pattern": "a/*", "limit": "1GiB"},
                              follow_redirects=False), 303,
              {("dynamodb", "GetItem"): 2, ("dynamodb", "Query"): 1, ("dynamodb", "PutItem"): 1}),
             (lambda: ui.post("/ui/admin/quotas", data={"csrf": csrf, "pattern": "a/*", "limit": "2GiB"},
                              follow_redirects=False), 303,
              {("dynamodb", "GetItem"): 2, ("dynamodb", "UpdateItem"): 1}),
             (lambda: ui.get("/ui/admin/quotas/delete", params={"pattern": "a/*"}), 200, {("dynamodb", "Query"): 1}),
             (lambda: ui.post("/ui/admin/quotas/delete", data={"csrf": csrf, "pattern": "a/*"}, follow_redirects=False),
              303, {("dynamodb", "GetItem"): 1, ("dynamodb", "UpdateItem"): 1, ("dynamodb", "Query"): 1,
                    ("dynamodb", "DeleteItem"): 1}))
    for step, status, cost in steps:
        calls.clear()
        assert step().status_code == status
        assert dict(calls) == cost


def test_a_usage_page_costs_a_catalog_query_and_a_walk_and_a_batch_per_repository(ui, calls):
    """Plus the write of what this instance counted and has not written yet (one per repository and day)."""
    for repo in ("a/one", "b/two", "c/three"):
        push_full_image(ui, repo, "v1")
    ui.get("/ui/admin/quotas/usage")
    calls.clear()
    assert ui.get("/ui/admin/quotas/usage").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 1 + 3, ("dynamodb", "BatchGetItem"): 3}
    assert ui.get("/v2/a/one/manifests/v1").status_code == 200
    calls.clear()
    assert ui.get("/ui/admin/quotas/usage").status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 1 + 3, ("dynamodb", "BatchGetItem"): 3,
                           ("dynamodb", "UpdateItem"): 1}
