"""The web page in a real browser (Debian's chromium, driven by Playwright) against `dockyard serve --auth`
with images pushed by skopeo and a referrer pushed by oras: sign in, browse a repository, a tag, a
multi-platform index and a referrer; create a key, use it with skopeo, revoke it; delete a tag; the keyboard
alone, a phone's width, a cross-site form; and screenshots at desktop and phone width.

Screenshots go to the test's temporary directory, or to `$DOCKYARD_SCREENSHOTS` when it is set (the README's
are made that way: `DOCKYARD_SCREENSHOTS=docs/screenshots pytest tests/e2e/test_ui_browser.py`).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import uuid
from pathlib import Path

import pytest
from oras.client import OrasClient
from oras.oci import Subject

from dockyard.resources import Env
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Layout, descriptor, layer_tar, sha256
from tests.support.processes import Server, skopeo

pytestmark = pytest.mark.e2e
ADMIN_ID, ADMIN_SECRET = "ui-admin", "dys_" + "u" * 43
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps reaching for the network this machine does not have.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def built_image(layout: Layout, layers) -> tuple[dict, bytes]:
    """An image with the config a real build leaves: created, author, history, env, entrypoint, ports, labels."""
    config = json.dumps({
        "created": "2026-11-30T10:00:00Z", "author": "Platform team <platform@example.test>",
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_MODE=production"],
                   "Entrypoint": ["/app/server"], "Cmd": ["--port", "8080"], "WorkingDir": "/app", "User": "app",
                   "ExposedPorts": {"8080/tcp": {}},
                   "Labels": {"org.opencontainers.image.source": "https://git.example.test/team/app",
                              "org.opencontainers.image.version": "1.0"}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar) for _, tar in layers]},
        "history": [{"created": "2026-11-30T09:58:00Z", "created_by": "ADD rootfs.tar.gz / # buildkit"},
                    {"created": "2026-11-30T10:00:00Z", "created_by": "COPY server /app/server # buildkit"},
                    {"created": "2026-11-30T10:00:00Z", "created_by": "EXPOSE map[8080/tcp:{}]", "empty_layer": True},
                    {"created": "2026-11-30T10:00:00Z", "created_by": 'ENTRYPOINT ["/app/server"]',
                     "empty_layer": True}],
    }).encode()
    layout.blob(config)
    for compressed, _ in layers:
        layout.blob(compressed)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, c) for c, _ in layers]}).encode()
    layout.blob(manifest)
    return descriptor(OCI_MANIFEST, manifest, platform={"architecture": "amd64", "os": "linux"}), manifest


@pytest.fixture(scope="module")
def registry(moto_endpoint, tmp_path_factory):
    """`dockyard serve --auth` with a small catalog: an image, a multi-platform index, an SBOM referring to
    the image, and a few more repositories."""
    name = f"ui-{uuid.uuid4().hex[:10]}"
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name, "--auth",
                    "--signing-secret", f"{name}-signing", env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET})
    root = tmp_path_factory.mktemp("content")
    layout = Layout(root / "src")
    base = layer_tar({"etc/os-release": b"NAME=Dockyard\n" * 400, "bin/app": os.urandom(40_000)})
    app = layer_tar({"app/server": os.urandom(120_000)})
    image, manifest = built_image(layout, [base, app])
    layout.tag(image, "1.0")
    old, _ = layout.image([layer_tar({"app/server": os.urandom(30_000)})])
    layout.tag(old, "0.9")
    arm, _ = layout.image([layer_tar({"app/server": os.urandom(20_000)})], arch="arm64")
    index, _ = layout.multi_arch([image, arm])
    layout.tag(index, "multi")
    creds = f"{ADMIN_ID}:{ADMIN_SECRET}"
    for tag, repo in (("1.0", "team/app"), ("0.9", "team/app"), ("1.0", "team/web"), ("0.9", "tools/ci")):
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{root / 'src'}:{tag}",
               f"docker://{server.host}/{repo}:{tag}")
    skopeo("copy", "--all", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{root / 'src'}:multi",
           f"docker://{server.host}/team/app:multi")
    (root / "sbom.spdx.json").write_text('{"spdxVersion": "SPDX-2.3", "name": "app"}')
    (root / "sbom-config.json").write_text("{}")
    oras = OrasClient(hostname=server.host, insecure=True, auth_backend="basic")
    oras.login(username=ADMIN_ID, password=ADMIN_SECRET, hostname=server.host)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        oras.push(target=f"{server.host}/team/app:sbom", files=["sbom.spdx.json"],
                  subject=Subject(mediaType=OCI_MANIFEST, digest=image["digest"], size=len(manifest)),
                  manifest_config="sbom-config.json:application/spdx+json")
    finally:
        os.chdir(cwd)
    server.image, server.index = image["digest"], index["digest"]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DOCKYARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def sign_in(page, registry, key_id=ADMIN_ID, secret=ADMIN_SECRET):
    page.goto(f"{registry.url}/ui/")
    assert page.url.startswith(f"{registry.url}/ui/signin")
    page.fill("#key_id", key_id)
    page.fill("#secret", secret)
    page.press("#secret", "Enter")
    page.wait_for_url(f"{registry.url}/ui/")


def test_sign_in_keeps_a_strict_session_cookie_on_plain_http_loopback(browser, registry):
    page = new_page(browser)
    sign_in(page, registry)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["dockyard_session"]
    # Chromium treats http://127.0.0.1 as potentially trustworthy: it keeps a Secure cookie there.
    assert (session["httpOnly"], session["secure"], session["sameSite"], session["path"]) == (True, True, "Strict", "/ui/")
    assert ADMIN_SECRET not in json.dumps(list(cookies.values())) and ADMIN_SECRET not in page.url
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script sees it
    page.context.close()


def test_browse_a_repository_a_tag_an_index_and_a_referrer(browser, registry, shots):
    page = new_page(browser)
    sign_in(page, registry)
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 3
    assert "team/app" in rows.nth(0).inner_text()
    page.screenshot(path=str(shots / "repositories.png"), full_page=True)

    page.click("text=team/app")
    page.wait_for_url("**/ui/r/team/app")
    tags = page.locator("table.tags tbody th").all_inner_texts()
    assert {t.split()[0] for t in tags} == {"1.0", "0.9", "multi", "sbom"}
    assert page.locator(f'button[data-copy="docker pull {registry.host}/team/app:1.0"]').is_visible()
    assert "linux/arm64" in page.inner_text("table.tags")
    page.screenshot(path=str(shots / "tags.png"), full_page=True)

    page.click("table.tags >> text=1.0")
    page.wait_for_url("**/-/manifests/1.0")
    body = page.inner_text("main")
    for expected in ("Layers", "application/vnd.oci.image.layer.v1.tar+gzip", "Config", "linux/amd64",
                     "2026-11-30T10:00:00Z", "Platform team", "APP_MODE=production", '["/app/server"]',
                     "8080/tcp", "org.opencontainers.image.source", "COPY server /app/server", "Referrers",
                     "application/spdx+json"):
        assert expected in body, expected
    assert page.locator("figure.chart svg rect.bar").count() == 2
    page.screenshot(path=str(shots / "image.png"), full_page=True)

    page.click("ul.tree a")  # the SBOM, under its subject
    assert "application/spdx+json" in page.inner_text("main") and "Subject" in page.inner_text("main")

    page.goto(f"{registry.url}/ui/r/team/app/-/manifests/multi")
    platforms = page.inner_text("main")
    assert "Platforms" in platforms and "linux/amd64" in platforms and "linux/arm64" in platforms
    page.click("tr:has-text('linux/arm64') a")
    page.wait_for_url("**/-/manifests/sha256:*")
    assert "linux/arm64" in page.inner_text("dl.facts")
    page.context.close()


def test_copy_buttons_copy_the_pull_command(browser, registry):
    from playwright.sync_api import expect

    page = new_page(browser)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=registry.url)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/r/team/app")
    button = page.locator(f'button[data-copy="podman pull {registry.host}/team/app:multi"]')
    button.click()
    expect(button).to_have_text("Copied")  # once the clipboard's write resolved
    assert page.evaluate("navigator.clipboard.readText()") == f"podman pull {registry.host}/team/app:multi"
    page.context.close()


def test_a_page_view_is_one_request_once_static_files_are_cached(browser, registry):
    page = new_page(browser)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/r/team/app")
    sent, cached = {}, set()
    cdp = page.context.new_cdp_session(page)  # the browser's own account of what came from its cache
    cdp.send("Network.enable")
    cdp.on("Network.requestWillBeSent", lambda event: sent.setdefault(event["requestId"], event["request"]["url"]))
    cdp.on("Network.requestServedFromCache", lambda event: cached.add(event["requestId"]))
    cdp.on("Network.responseReceived",
           lambda event: cached.add(event["requestId"]) if event["response"].get("fromDiskCache") else None)
    page.click("table.tags >> text=0.9")
    page.wait_for_url("**/-/manifests/0.9")
    page.wait_for_load_state("networkidle")
    assert any("/ui/static/app." in url for url in sent.values())  # asked for, and answered by the cache
    assert [url for request_id, url in sent.items() if request_id not in cached] == [
        f"{registry.url}/ui/r/team/app/-/manifests/0.9"]
    page.context.close()


def test_the_keyboard_alone_signs_in_and_browses(browser, registry):
    page = new_page(browser)
    page.goto(f"{registry.url}/ui/signin")
    assert page.evaluate("document.activeElement.id") == "key_id"  # the form has the focus
    page.keyboard.type(ADMIN_ID)
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_SECRET)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{registry.url}/ui/")
    for _ in range(30):  # Tab through the page until the first repository link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "team/app":
            break
    else:
        pytest.fail("no repository link reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/r/team/app")
    page.context.close()


PAGES = ("/ui/", "/ui/r/team/app", "/ui/r/team/app/-/manifests/1.0", "/ui/r/team/app/-/manifests/multi",
         "/ui/r/team/app/-/delete/1.0", "/ui/admin/", "/ui/admin/keys", "/ui/admin/anonymous", "/ui/admin/upstreams",
         "/ui/admin/immutability", "/ui/admin/maintenance", "/ui/admin/maintenance/gc", "/ui/admin/quotas",
         "/ui/admin/quotas/usage", "/ui/r/team/none")
SHOTS = {"/ui/r/team/app": "tags-phone.png", "/ui/r/team/app/-/manifests/1.0": "image-phone.png"}


def test_a_phone_sees_every_page_at_375_pixels(browser, registry, shots):
    page = new_page(browser, PHONE)
    sign_in(page, registry)
    for path in PAGES:
        page.goto(registry.url + path)
        # Nothing is wider than the screen: the page never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        if path in SHOTS or os.environ.get("DOCKYARD_ALL_SCREENSHOTS"):
            name = SHOTS.get(path) or path.strip("/").replace("/", "_") + "-phone.png"
            page.screenshot(path=str(shots / name), full_page=True)
    page.context.close()


CONTRAST = """() => {
  const channels = (css) => css.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map((c) => {
    c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (element) => {
    for (; element; element = element.parentElement) {
      const c = channels(getComputedStyle(element).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const poor = [];
  for (const element of document.querySelectorAll("body *")) {
    if (element.closest("svg") || !element.getClientRects().length) continue;
    if (![...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const [a, b] = [luminance(channels(getComputedStyle(element).color)), luminance(background(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) poor.push(`${element.tagName} "${element.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return poor;
}"""


def test_every_text_has_readable_contrast(browser, registry, shots):
    """WCAG AA: at least 4.5:1 between each text's colour and the background behind it, on every page."""
    page = new_page(browser)
    sign_in(page, registry)
    for path in PAGES:
        page.goto(registry.url + path)
        assert page.evaluate(CONTRAST) == [], path
        if os.environ.get("DOCKYARD_ALL_SCREENSHOTS"):
            page.screenshot(path=str(shots / (path.strip("/").replace("/", "_") + ".png")), full_page=True)
    page.context.close()


def test_create_a_key_use_it_with_skopeo_revoke_it_and_skopeo_is_refused(browser, registry, tmp_path, shots):
    page = new_page(browser)
    sign_in(page, registry)
    page.click("header >> text=Admin")
    page.click("text=Access keys")
    page.fill("#name", "ci-reader")
    page.fill("#allow", "team/*=pull")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("text=Copy the secret now")
    key_id = page.locator("dd code").nth(0).inner_text()
    secret = page.locator("dd code").nth(1).inner_text()
    assert re.fullmatch(r"dyk_\w+", key_id) and secret.startswith("dys_") and secret not in page.url
    page.screenshot(path=str(shots / "key-created.png"))

    out = f"oci:{tmp_path / 'pulled'}:1.0"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", f"{key_id}:{secret}",
           f"docker://{registry.host}/team/app:1.0", out)

    page.goto(f"{registry.url}/ui/admin/keys")
    page.click(f"a[href$='/{key_id}/revoke']")
    assert f"Revoke key ci-reader?" in page.inner_text("h1")
    page.click("button:has-text('Revoke ci-reader')")
    page.wait_for_selector(f"text=Revoked {key_id}")
    with pytest.raises(AssertionError) as refused:
        skopeo("copy", "--src-tls-verify=false", "--src-creds", f"{key_id}:{secret}",
               f"docker://{registry.host}/team/app:1.0", f"oci:{tmp_path / 'again'}:1.0")
    assert "unauthorized" in str(refused.value).lower() or "401" in str(refused.value)
    page.context.close()


def test_delete_a_tag_and_skopeo_no_longer_lists_it(browser, registry, shots):
    page = new_page(browser)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/r/team/app")
    page.click("a[href$='/-/delete/0.9']")
    confirm = page.inner_text("main")
    assert "Delete tag 0.9?" in confirm and "team/app:0.9" in confirm
    page.screenshot(path=str(shots / "delete-confirm.png"))
    page.click("button:has-text('Delete tag 0.9')")
    page.wait_for_selector("text=Deleted 0.9")
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", "--creds", f"{ADMIN_ID}:{ADMIN_SECRET}",
                               f"docker://{registry.host}/team/app"))["Tags"]
    assert "0.9" not in listed and "1.0" in listed
    page.context.close()


def test_an_immutability_rule_set_on_the_page_refuses_skopeo_and_is_deleted(browser, registry, shots):
    page = new_page(browser)
    sign_in(page, registry)
    page.goto(f"{registry.url}/ui/admin/")
    page.click("text=Immutable tags")
    page.fill("#pattern", "tools/*")
    page.fill("#mutable", "latest")
    page.click("button:has-text('Save rule')")
    page.wait_for_selector("text=Saved the rule for tools/*")
    page.goto(f"{registry.url}/ui/r/tools/ci")
    assert page.locator("table.tags .badge.lock").inner_text() == "immutable"
    assert page.locator("a[href$='/-/delete/0.9']").count() == 0
    creds = f"{ADMIN_ID}:{ADMIN_SECRET}"
    with pytest.raises(AssertionError) as refused:  # moving the tag to another image
        skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", creds, "--dest-creds",
               creds, f"docker://{registry.host}/team/app:1.0", f"docker://{registry.host}/tools/ci:0.9")
    assert "is immutable (rule tools/*)" in str(refused.value)
    page.goto(f"{registry.url}/ui/admin/immutability")
    page.click("a:has-text('Delete…')")
    page.click("button:has-text('Delete rule tools/*')")
    page.wait_for_selector("text=Deleted the rule for tools/*")
    page.goto(f"{registry.url}/ui/r/tools/ci")
    assert page.locator("table.tags .badge.lock").count() == 0
    page.context.close()


def test_a_form_posted_from_another_site_is_refused(browser, registry):
    """Another origin on the same machine (same site, so even SameSite=Strict sends the cookie) posts a
    delete form: the page refuses it, and the tag stays."""
    form = (f'<form method="post" action="{registry.url}/ui/r/team/web/-/delete/1.0">'
            '<input name="csrf" value="guessed"><button id="go">go</button></form>').encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(form)

        def log_message(self, *args):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page = new_page(browser)
        sign_in(page, registry)
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.click("#go")
        page.wait_for_load_state()
        assert "another site" in page.inner_text("main")
        page.context.close()
    finally:
        evil.shutdown()
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", "--creds", f"{ADMIN_ID}:{ADMIN_SECRET}",
                               f"docker://{registry.host}/team/web"))["Tags"]
    assert listed == ["1.0"]


def test_a_refusal_reads_as_a_page(browser, registry):
    page = new_page(browser)
    sign_in(page, registry)
    response = page.goto(f"{registry.url}/ui/r/team/nothing-here")
    assert response.status == 404
    assert "Not found" in page.inner_text("h1") and "not known" in page.inner_text("main")
    page.context.close()
