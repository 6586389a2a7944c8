"""Maintenance on the page: retention rules set, listed and deleted (refusals shown on the form, as the API
words them), a preview that lists what would go and why and deletes nothing, a real run started from it, the
runs with their counts, and on a repository's page the rule that applies (for admins only)."""

import html
import re
import time

import pytest

from tests.support.audit import audit_lines
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, create_key
from tests.support.content import push_full_image
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.test_ui_pages import text as tagless

ADMIN = basic(ADMIN_ID, ADMIN_SECRET)


def text(page: str) -> str:
    return html.unescape(tagless(page))


def wait_for(ui, path: str, timeout: float = 60) -> str:
    """The run page once its run ended (it reloads itself while the run goes on)."""
    deadline = time.monotonic() + timeout
    while True:
        page = ui.get(path)
        assert page.status_code == 200, page.text
        if 'http-equiv="refresh"' not in page.text:
            return text(page.text)
        assert time.monotonic() < deadline, f"{path} still running"
        time.sleep(0.1)


def start(ui, csrf: str, dry_run: bool, grace: str = "0s"):
    return ui.post("/ui/admin/maintenance/gc", data={"csrf": csrf, "dry_run": "1" if dry_run else "0",
                                                      "grace": grace}, follow_redirects=False)


def test_rules_are_set_listed_and_deleted_and_refusals_keep_the_form(ui):
    csrf = csrf_of(ui, "/ui/admin/maintenance")
    assert "Maintenance" in ui.get("/ui/admin/").text
    with audit_lines() as lines:
        saved = ui.post("/ui/admin/maintenance", data={
            "csrf": csrf, "pattern": "team/*", "keep_last": "3", "expire_after": "90d", "untagged_after": "12h",
            "unpulled_after": "", "tags": "", "keep_tags": "latest, v*"})
    assert saved.status_code == 200 and "Saved the retention rule for team/*" in text(saved.text)
    rule = ui.get("/dockyard/v1/retention").json()["rules"][0]
    assert {k: rule[k] for k in ("pattern", "keep_last", "expire_after", "untagged_after", "unpulled_after", "tags",
                                 "keep_tags")} == {"pattern": "team/*", "keep_last": 3, "expire_after": 90 * 86400,
                                                   "untagged_after": 12 * 3600, "unpulled_after": None, "tags": [],
                                                   "keep_tags": ["latest", "v*"]}
    shown = text(saved.text)
    for words in ("keeps the newest 3 tags", "tags pushed over 90d ago expire", "untagged manifests go after 12h",
                  "never latest v*"):
        assert words in shown, words
    for form, message in (({"pattern": "Team/*", "keep_last": "3"}, "invalid repository glob 'Team/*'"),
                          ({"pattern": "team/*"}, "a rule needs at least one of keep_last"),
                          ({"pattern": "team/*", "keep_last": "three"}, "keep last must be a whole number"),
                          ({"pattern": "team/*", "expire_after": "3 months"}, "expire after: invalid duration"),
                          ({"pattern": "team/*", "expire_after": "0d"}, "invalid duration '0d'"),
                          ({"pattern": "team/*", "keep_last": "1", "keep_tags": "a/b"}, "keep_tags must be at most")):
        refused = ui.post("/ui/admin/maintenance", data={"csrf": csrf, **form})
        assert refused.status_code == 400 and message in text(refused.text), (form, text(refused.text)[:600])
        assert 'role="alert"' in refused.text and f'value="{form["pattern"]}"' in refused.text
    assert len(ui.get("/dockyard/v1/retention").json()["rules"]) == 1
    confirm = text(ui.get("/ui/admin/maintenance/delete", params={"pattern": "team/*"}).text)
    assert "Delete the retention rule for team/*?" in confirm and "keeps the newest 3 tags" in confirm
    assert ui.get("/ui/admin/maintenance/delete", params={"pattern": "none/*"}).status_code == 404
    with audit_lines() as more:
        deleted = ui.post("/ui/admin/maintenance/delete", data={"csrf": csrf, "pattern": "team/*"})
    assert "Deleted the retention rule for team/*" in text(deleted.text)
    assert ui.get("/dockyard/v1/retention").json()["rules"] == []
    assert ui.post("/ui/admin/maintenance/delete", data={"csrf": csrf, "pattern": "team/*"}).status_code == 404
    assert [line["event"] for line in lines + more] == ["retention.set", "retention.delete"]


def test_a_preview_lists_what_would_go_and_why_and_the_run_started_from_it_deletes_it(ui):
    for tag in ("v1", "v2", "v3"):
        push_full_image(ui, "team/app", tag, layers=(tag.encode() * 400,))
        time.sleep(1.1)  # distinct push times: v1 is the oldest
    csrf = csrf_of(ui, "/ui/admin/maintenance")
    ui.post("/ui/admin/maintenance", data={"csrf": csrf, "pattern": "team/app", "keep_last": "2"})

    with audit_lines() as lines:
        started = start(ui, csrf, dry_run=True)
    assert started.status_code == 303 and [line["event"] for line in lines] == ["gc.start"]
    preview = wait_for(ui, started.headers["location"])
    assert "Preview" in preview and "What would go, and why" in preview and "done" in preview
    assert re.search(r"manifest team/app sha256:\w{12} Copy tags v1 keep-last 2: 3rd newest \(rule team/app \)",
                     preview), preview
    assert "tags v2" not in preview and "tags v3" not in preview
    assert re.search(r"link team/app sha256:\w{12} Copy 800 B no manifest references it", preview)
    assert re.search(r"blob sha256:\w{12} Copy 800 B no repository links it", preview)
    assert ui.get("/v2/team/app/tags/list").json()["tags"] == ["v1", "v2", "v3"]  # nothing went

    page = ui.get(started.headers["location"]).text
    assert 'name="dry_run" value="0"' in page and 'name="grace" value="0s"' in page  # "Delete it now"
    ran = start(ui, csrf, dry_run=False)
    assert ran.status_code == 303
    report = wait_for(ui, ran.headers["location"])
    assert "Garbage collection run" in report and "What went, and why" in report
    assert "tags v1 keep-last 2" in report and "no repository links it" in report
    assert ui.get("/v2/team/app/tags/list").json()["tags"] == ["v2", "v3"]

    overview = ui.get("/ui/admin/maintenance").text
    rows = re.findall(r"<tr>\s*<th scope=\"row\" data-label=\"Run\">.*?</tr>", overview, re.S)
    assert len(rows) == 2
    real, dry = text(rows[0]), text(rows[1])  # newest first
    assert " run done " in real and " preview done " in dry
    api = {r["id"]: r for r in ui.get("/dockyard/v1/gc/runs").json()["runs"]}
    newest = next(r for r in api.values() if not r["dry_run"])
    counts = newest["counts"]
    assert counts["deleted_manifests"] == 1 and counts["deleted_blobs"] >= 1 and counts["freed_bytes"] > 0
    assert re.search(rf"{counts['deleted_tags']} {counts['deleted_manifests']} {counts['deleted_blobs']} \d", real)


def test_a_run_while_another_holds_the_lease_is_refused_with_a_link_to_it(ui, registry):
    csrf = csrf_of(ui, "/ui/admin/maintenance")
    now = int(time.time())
    assert registry.storage.maintenance.take_lock("20261201T000000Z-abcdef", now + 600, now) is None
    refused = start(ui, csrf, dry_run=False)
    assert refused.status_code == 409
    assert "Run 20261201T000000Z-abcdef is in progress" in text(refused.text)
    assert 'href="/ui/admin/maintenance/runs/20261201T000000Z-abcdef"' in refused.text
    assert start(ui, csrf, dry_run=True).status_code == 303  # a preview only reads


@pytest.mark.parametrize("path,status", [("/ui/admin/maintenance/runs/none", 404),
                                         ("/ui/admin/maintenance/runs/" + "x" * 300, 404),
                                         ("/ui/admin/maintenance/runs/none?part=abc", 400),
                                         ("/ui/admin/maintenance/delete?pattern=" + "%00" * 5, 404)])
def test_bad_run_and_rule_references_read_as_error_pages(ui, path, status):
    response = ui.get(path)
    assert response.status_code == status and "Traceback" not in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_bad_gc_input_is_a_400_on_the_page_and_a_missing_part_a_404(ui):
    csrf = csrf_of(ui, "/ui/admin/maintenance")
    refused = start(ui, csrf, dry_run=True, grace="soon")
    assert refused.status_code == 400 and "grace: invalid duration 'soon'" in text(refused.text)
    assert 'value="soon"' in refused.text
    run = start(ui, csrf, dry_run=True).headers["location"]
    wait_for(ui, run)
    assert ui.get(run, params={"part": 1}).status_code == 404
    assert ui.get(run, params={"part": -1}).status_code == 404
    unsaid = ui.post("/ui/admin/maintenance/gc", data={"csrf": csrf, "grace": "0s"}, follow_redirects=False)
    assert "Preview" in wait_for(ui, unsaid.headers["location"])  # a form that does not say "real" previews
    huge = ui.post("/ui/admin/maintenance", data={"csrf": csrf, "pattern": "team/*", "keep_last": "9" * 40})
    assert huge.status_code == 400 and "keep_last must be a whole number of tags, at most" in text(huge.text)
    confirm = text(ui.get("/ui/admin/maintenance/gc", params={"grace": "1h"}).text)
    assert "Run garbage collection now?" in confirm


def test_a_repository_page_shows_the_rule_that_applies_to_admins_only(secured, auth_registry):
    push_full_image(secured, "team/app", "v1", headers=ADMIN)
    sign_in(secured)
    plain = text(secured.get("/ui/r/team/app").text)
    assert "No retention rule applies" in plain
    csrf = csrf_of(secured, "/ui/admin/maintenance")
    for pattern, form in (("team/*", {"keep_last": "5"}), ("team/app", {"unpulled_after": "30d", "tags": "pr-*"})):
        assert secured.post("/ui/admin/maintenance", data={"csrf": csrf, "pattern": pattern, **form},
                            follow_redirects=False).status_code == 303
    shown = text(secured.get("/ui/r/team/app").text)
    assert "The rule for team/app applies" in shown and "what was not pulled for 30d expires" in shown
    assert "only tags pr-*" in shown and "newest 5" not in shown
    key_id, secret = create_key(secured, ADMIN, "reader", "team/*=pull")
    secured.post("/ui/signout", data={"csrf": csrf_of(secured, "/ui/")})
    sign_in(secured, key_id, secret)
    reader = secured.get("/ui/r/team/app")
    assert reader.status_code == 200 and "Retention" not in text(reader.text)
    assert secured.get("/ui/admin/maintenance").status_code == 403
    denied = secured.post("/ui/admin/maintenance", data={"csrf": csrf_of(secured, "/ui/"), "pattern": "team/*",
                                                         "keep_last": "0"})
    assert denied.status_code == 403
    assert [r["pattern"] for r in auth_registry.maintenance.rules()] == ["team/*", "team/app"]


def test_a_state_change_without_the_page_csrf_value_is_refused(ui):
    csrf_of(ui, "/ui/admin/maintenance")
    for path, data in (("/ui/admin/maintenance", {"pattern": "team/*", "keep_last": "1"}),
                       ("/ui/admin/maintenance/gc", {"dry_run": "0"})):
        refused = ui.post(path, data={**data, "csrf": "guessed"})
        assert refused.status_code == 403 and "reload it and try again" in text(refused.text)
    crossed = ui.post("/ui/admin/maintenance/gc", data={"dry_run": "0", "csrf": csrf_of(ui, "/ui/admin/maintenance")},
                      headers={"Origin": "https://evil.test"})
    assert crossed.status_code == 403 and "another site" in text(crossed.text)
    assert ui.get("/dockyard/v1/gc/runs").json()["runs"] == []
    assert ui.get("/dockyard/v1/retention").json()["rules"] == []

