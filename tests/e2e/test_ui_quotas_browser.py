"""Quotas and usage in a real browser (Debian's chromium, driven by Playwright) against `dockyard serve
--auth` with images pushed by skopeo: a refused limit shown on its form, a quota set on the page refusing a
skopeo push over it and shown used against its limit, the usage of each repository with its pulls and cost,
the pulls chart of a repository, the quota deleted and the push then accepted; at a phone's width and with
readable contrast."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from dockyard.resources import Env
from tests.e2e.test_ui_browser import ADMIN_ID, ADMIN_SECRET, PHONE, browser, new_page, shots, sign_in
from tests.e2e.test_ui_maintenance_browser import fit_a_phone_and_read_well
from tests.support.oci import Layout, layer_tar
from tests.support.processes import Server, skopeo

pytestmark = pytest.mark.e2e
__all__ = ["browser", "shots"]  # the fixtures, shared with the other browser tests
CREDS = f"{ADMIN_ID}:{ADMIN_SECRET}"


@pytest.fixture(scope="module")
def registry(moto_endpoint, tmp_path_factory):
    """`dockyard serve --auth` (pulls written at once) with team/app:1.0 of about 60 kB pushed, and a larger
    image ready to push."""
    name = f"uiq-{uuid.uuid4().hex[:10]}"
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name, "--auth",
                    "--signing-secret", f"{name}-signing",
                    env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET, Env.METER_INTERVAL: "0",
                         Env.QUOTA_CACHE_TTL: "0"})
    root = tmp_path_factory.mktemp("content")
    layout = Layout(root / "src")
    for tag, size in (("1.0", 60_000), ("big", 300_000)):
        image, _ = layout.image([layer_tar({"app/server": os.urandom(size)})])
        layout.tag(image, tag)
    server.layout = root / "src"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{server.layout}:1.0",
           f"docker://{server.host}/team/app:1.0")
    yield server
    server.stop()


def push(registry, tag: str, repo: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{registry.layout}:{tag}",
           f"docker://{registry.host}/{repo}:{tag}")


def test_a_quota_set_on_the_page_refuses_a_push_and_usage_shows_pulls_and_cost(browser, registry, shots, tmp_path):
    skopeo("copy", "--src-tls-verify=false", "--src-creds", CREDS, f"docker://{registry.host}/team/app:1.0",
           f"oci:{tmp_path / 'pulled'}:1.0")  # a pull
    page = new_page(browser)
    sign_in(page, registry)
    page.click("header >> text=Admin")
    page.click("text=Quotas and usage")
    page.wait_for_url("**/ui/admin/quotas")
    page.fill("#pattern", "team/*")
    page.fill("#limit", "a lot")
    page.click("button:has-text('Save quota')")
    assert "limit: invalid size 'a lot'" in page.inner_text("[role=alert]")
    assert page.input_value("#pattern") == "team/*"
    page.fill("#limit", "200KiB")
    page.click("button:has-text('Save quota')")
    page.wait_for_selector("text=Saved the quota for team/*")
    with pytest.raises(AssertionError) as refused:
        push(registry, "big", "team/web")
    assert "quota exceeded in namespace team/*" in str(refused.value)
    page.reload()
    gauge = page.inner_text("table.quotas .gauge")
    assert "of 200.0 KiB" in gauge and "%" in gauge
    page.screenshot(path=str(shots / "quotas.png"), full_page=True)

    page.click("nav.tabs >> text=Usage and cost")
    page.wait_for_url("**/ui/admin/quotas/usage")
    page.select_option("#days", "7")
    page.fill("#egress", "internet")
    page.click("button:has-text('Show')")
    page.wait_for_url("**/usage?*days=7*")
    row = page.locator("table.usage tbody tr", has_text="team/app")
    cells = row.locator("td").all_inner_texts()
    assert int(cells[4]) >= 1 and cells[5] == "1"  # skopeo's pull, and the push
    assert int(cells[6]) >= 1  # the blobs skopeo downloaded
    row.locator("summary").click()
    assert "s3 storage" in row.inner_text() and "egress" in row.inner_text()
    assert "egress at $0.09 per GB" in page.inner_text("main")
    page.screenshot(path=str(shots / "usage.png"), full_page=True)

    page.click("table.usage >> text=team/app")
    page.wait_for_url("**/ui/r/team/app")
    assert re.search(r"\b[1-9]\d* pulls? \(manifest GETs\) in the last 30 days", page.inner_text("main"))
    assert page.locator("figure.chart li").count() == 14

    page.goto(f"{registry.url}/ui/admin/quotas")
    page.click("a:has-text('Delete…')")
    assert "Delete the quota for team/*?" in page.inner_text("h1")
    page.click("button:has-text('Delete quota team/*')")
    page.wait_for_selector("text=Deleted the quota for team/*")
    push(registry, "big", "team/web")  # no quota any more
    page.context.close()


def test_the_quota_pages_fit_a_phone_and_have_readable_contrast(browser, registry):
    page = new_page(browser, PHONE)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/admin/quotas")
    page.fill("#pattern", "tools/*")
    page.fill("#limit", "1GiB")
    page.click("button:has-text('Save quota')")
    page.wait_for_selector("text=Saved the quota for tools/*")
    fit_a_phone_and_read_well(page, registry, ("/ui/admin/quotas", "/ui/admin/quotas/usage",
                                               "/ui/admin/quotas/delete?pattern=tools/*",
                                               "/ui/admin/quotas/usage?egress=mars", "/ui/r/team/app"))
    page.context.close()
