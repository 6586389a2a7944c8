"""The Maintenance section in a real browser (Debian's chromium, driven by Playwright) against
`dockyard serve --auth` with images pushed by skopeo: a refused rule shown on its form, a rule set, the
repository page naming it, a preview listing what would go and why (the page reloading itself until the run
ends), the real run started from the preview deleting it (skopeo no longer lists the tag), the runs with
their counts, the rule deleted; at a phone's width and with readable contrast."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from dockyard.resources import Env
from tests.e2e.test_ui_browser import ADMIN_ID, ADMIN_SECRET, CONTRAST, PHONE, browser, new_page, shots, sign_in
from tests.support.oci import Layout, layer_tar
from tests.support.processes import Server, skopeo

pytestmark = pytest.mark.e2e
__all__ = ["browser", "shots"]  # the fixtures, shared with the other browser tests
CREDS = f"{ADMIN_ID}:{ADMIN_SECRET}"


@pytest.fixture(scope="module")
def registry(moto_endpoint, tmp_path_factory):
    """`dockyard serve --auth` with team/app:0.9 pushed before team/app:1.0, and tools/ci:1.0."""
    name = f"uim-{uuid.uuid4().hex[:10]}"
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name, "--auth",
                    "--signing-secret", f"{name}-signing", env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET})
    root = tmp_path_factory.mktemp("content")
    layout = Layout(root / "src")
    for tag in ("0.9", "1.0"):
        image, _ = layout.image([layer_tar({"app/server": os.urandom(30_000)})])
        layout.tag(image, tag)
    for tag, repo in (("0.9", "team/app"), ("1.0", "team/app"), ("1.0", "tools/ci")):
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{root / 'src'}:{tag}",
               f"docker://{server.host}/{repo}:{tag}")
        time.sleep(1.1)  # push times a second apart: 0.9 is the older tag
    yield server
    server.stop()


def tags_of(registry, repo: str) -> list[str]:
    return json.loads(skopeo("list-tags", "--tls-verify=false", "--creds", CREDS,
                             f"docker://{registry.host}/{repo}"))["Tags"]


def test_a_rule_its_preview_and_the_run_from_it_delete_an_old_tag(browser, registry, shots):
    page = new_page(browser)
    sign_in(page, registry)
    page.click("header >> text=Admin")
    page.click("text=Maintenance")
    page.wait_for_url("**/ui/admin/maintenance")

    page.fill("#pattern", "team/app")
    page.fill("#keep_last", "one")  # refused by the page, and the form keeps what was typed
    page.click("button:has-text('Save rule')")
    assert "keep last must be a whole number of tags" in page.inner_text("[role=alert]")
    assert page.input_value("#pattern") == "team/app"
    page.fill("#keep_last", "1")
    page.fill("#keep_tags", "1.*x")
    page.fill("#unpulled_after", "3 months")  # refused as the registry words it
    page.click("button:has-text('Save rule')")
    assert "unpulled after: invalid duration '3 months'" in page.inner_text("[role=alert]")
    page.fill("#unpulled_after", "")
    page.click("button:has-text('Save rule')")
    page.wait_for_selector("text=Saved the retention rule for team/app")
    assert "keeps the newest 1 tag" in page.inner_text("table.list")

    page.goto(f"{registry.url}/ui/r/team/app")
    retention = page.inner_text("section.retention")
    assert "The rule for team/app applies" in retention and "keeps the newest 1 tag" in retention
    page.goto(f"{registry.url}/ui/r/tools/ci")
    assert "No retention rule applies" in page.inner_text("section.retention")

    page.goto(f"{registry.url}/ui/admin/maintenance")
    page.fill("#grace", "0s")
    page.click("button:has-text('Preview')")
    page.wait_for_url("**/ui/admin/maintenance/runs/*")
    page.wait_for_selector("text=What would go, and why")
    page.wait_for_selector("dl.facts .badge.ok", timeout=60_000)  # reloaded by itself until the run ended
    report = page.inner_text("table.report")
    assert "team/app" in report and "0.9" in report and "keep-last 1" in report and "1.0" not in report
    assert tags_of(registry, "team/app") == ["0.9", "1.0"]  # a preview deletes nothing
    page.screenshot(path=str(shots / "maintenance-preview.png"), full_page=True)

    page.click("button:has-text('Run garbage collection')")
    page.wait_for_selector("text=What went, and why")
    page.wait_for_selector("dl.facts .badge.ok", timeout=60_000)
    assert "0.9" in page.inner_text("table.report") and "no repository links it" in page.inner_text("table.report")
    counts = page.locator("table.counts tbody td").all_inner_texts()
    assert counts[1] == "1" and counts[3] != "0"  # one manifest, and its layer's blob
    assert tags_of(registry, "team/app") == ["1.0"]

    page.click("text=Back to maintenance")
    runs = page.locator("#runs + .table-wrap tbody tr")
    assert runs.count() == 2
    assert "run" in runs.nth(0).inner_text() and "done" in runs.nth(0).inner_text()
    assert "preview" in runs.nth(1).inner_text()
    page.screenshot(path=str(shots / "maintenance.png"), full_page=True)

    page.click("a:has-text('Delete…')")
    assert "Delete the retention rule for team/app?" in page.inner_text("h1")
    page.click("button:has-text('Delete rule team/app')")
    page.wait_for_selector("text=Deleted the retention rule for team/app")
    assert "No rules" in page.inner_text("table.list")
    page.context.close()


def test_a_real_run_asks_first_and_the_keyboard_alone_starts_it(browser, registry):
    page = new_page(browser)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/admin/maintenance")
    page.click("text=Run garbage collection…")
    assert "Run garbage collection now?" in page.inner_text("h1")
    page.focus("#grace")
    page.keyboard.type("1h")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/admin/maintenance/runs/*")
    page.wait_for_selector("dl.facts .badge.ok", timeout=60_000)
    assert "1h" in page.inner_text("dl.facts")
    assert tags_of(registry, "tools/ci") == ["1.0"]
    page.context.close()


def test_the_maintenance_pages_fit_a_phone_and_have_readable_contrast(browser, registry):
    page = new_page(browser, PHONE)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/admin/maintenance")
    page.fill("#pattern", "tools/*")
    page.fill("#expire_after", "90d")
    page.fill("#keep_tags", "latest stable-*")
    page.click("button:has-text('Save rule')")
    page.wait_for_selector("text=Saved the retention rule for tools/*")
    page.fill("#grace", "0s")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("dl.facts .badge.ok", timeout=60_000)
    run = page.url
    fit_a_phone_and_read_well(page, registry, ("/ui/admin/maintenance", run.removeprefix(registry.url),
                                               "/ui/admin/maintenance/gc",
                                               "/ui/admin/maintenance/delete?pattern=tools/*", "/ui/r/tools/ci"))
    page.context.close()


def fit_a_phone_and_read_well(page, registry, paths) -> None:
    """Each page is no wider than the phone's screen, and all its text has readable contrast."""
    for path in paths:
        page.goto(registry.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        assert page.evaluate(CONTRAST) == [], path
