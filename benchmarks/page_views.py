"""Page views of the web page: server time and size of each page, and what Debian's chromium takes to load
one (first view with an empty cache, then with its static files cached), against `dockyard serve --auth`
over moto_server on loopback.

    python benchmarks/page_views.py [--repeat 30]      (chromium: apt-get install -y chromium)
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import time
import uuid

import httpx

from common import FAKE_ENV, MotoServer, environment, start_server
from tests.support.auth import basic
from tests.support.content import push_full_image, push_index, push_referrer

ADMIN_ID, ADMIN_SECRET = "bench-admin", "dys_" + "b" * 43
PAGES = {
    "baseline: the API's tag list (1 query)": "/v2/team/app/tags/list",
    "baseline: the API's catalog (1 query)": "/v2/_catalog",
    "repositories (20 of 25)": "/ui/",
    "a repository (100 tags, 25 shown)": "/ui/r/team/app",
    "an image (config, 2 layers, a referrer)": "/ui/r/team/app/-/manifests/t000",
    "an index (2 platforms)": "/ui/r/team/app/-/manifests/multi",
    "access keys": "/ui/admin/keys",
}


class Session:
    """A signed-in page session over plain HTTP on loopback (its cookies are `Secure`: kept by hand)."""

    def __init__(self, url: str):
        self.http, self.cookies = httpx.Client(base_url=url, timeout=60), {}

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {**kwargs.pop("headers", {}), **({"Cookie": cookie} if cookie else {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response

    def sign_in(self) -> None:
        self.get("/ui/signin")
        done = self.request("POST", "/ui/signin", data={"key_id": ADMIN_ID, "secret": ADMIN_SECRET, "next": "/ui/",
                                                        "csrf": self.cookies["dockyard_csrf"]})
        assert done.status_code == 303, done.text[:500]


def fill(url: str) -> None:
    admin = basic(ADMIN_ID, ADMIN_SECRET)
    with httpx.Client(base_url=url, timeout=60) as client:
        digest = push_full_image(client, "team/app", "t000", headers=admin)
        for i in range(1, 100):
            push_full_image(client, "team/app", f"t{i:03}", layers=(f"{i}".encode() * 300,), headers=admin)
        push_index(client, "team/app", "multi", headers=admin)
        push_referrer(client, "team/app", digest, "application/spdx+json", headers=admin)
        for i in range(24):
            push_full_image(client, f"project-{i:02}/service", "v1", layers=(f"p{i}".encode() * 200,), headers=admin)


def server_times(url: str, repeat: int) -> list[tuple[str, float, float, int, int]]:
    session = Session(url)
    session.sign_in()
    rows = []
    admin = basic(ADMIN_ID, ADMIN_SECRET)
    for label, path in PAGES.items():
        headers = admin if path.startswith("/v2/") else {}
        assert session.get(path, headers=headers).status_code == 200, path  # warm: templates, connections
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            page = session.get(path, headers=headers)
            times.append((time.perf_counter() - start) * 1000)
            assert page.status_code == 200
        times.sort()
        rows.append((label, statistics.median(times), times[int(len(times) * 0.9) - 1], len(page.content),
                     len(gzip.compress(page.content))))
    return rows


def browser_times(url: str, repeat: int) -> list[tuple[str, float, float]]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

    timing = "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{url}/ui/signin")
        page.fill("#key_id", ADMIN_ID)
        page.fill("#secret", ADMIN_SECRET)
        page.press("#secret", "Enter")
        page.wait_for_url(f"{url}/ui/")
        for label, path in (("a repository, first view (empty cache)", "/ui/r/team/app"),
                            ("a repository, static files cached", "/ui/r/team/app"),
                            ("an image, static files cached", "/ui/r/team/app/-/manifests/t000")):
            times = []
            for _ in range(repeat):
                if "empty cache" in label:
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.clearBrowserCache")
                    cdp.detach()
                page.goto(url + path, wait_until="load")
                times.append(page.evaluate(timing))
            times.sort()
            rows.append((label, statistics.median(times), times[int(len(times) * 0.9) - 1]))
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    from dockyard.resources import Env

    moto = MotoServer()
    name = f"bench-ui-{uuid.uuid4().hex[:8]}"
    os.environ.update({**FAKE_ENV, Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET})
    server = start_server(moto, name, "--auth", "--signing-secret", f"{name}-signing")
    try:
        fill(server.url)
        pages = server_times(server.url, args.repeat)
        loads = browser_times(server.url, max(5, args.repeat // 3))
    finally:
        server.stop()
        moto.stop()
    print("# Web page views\n")
    print(f"{environment()}; `dockyard serve --auth` over moto_server on loopback; {args.repeat} views each\n")
    print("| page | server median | p90 | HTML | gzipped |\n| --- | --- | --- | --- | --- |")
    for label, median, p90, size, zipped in pages:
        print(f"| {label} | {median:.0f} ms | {p90:.0f} ms | {size / 1000:.1f} kB | {zipped / 1000:.1f} kB |")
    print("\n| in chromium (navigation start to load event) | median | p90 |\n| --- | --- | --- |")
    for label, median, p90 in loads:
        print(f"| {label} | {median:.0f} ms | {p90:.0f} ms |")
    print("\nServer times include every DynamoDB and S3 call against one moto_server process on this machine "
          "(moto answers one call at a time), so compare each page with the baselines of the same run rather "
          "than with AWS latencies; the calls per page are pinned in `tests/ui/test_ui_costs.py`, and a view "
          "with cached static files is one request (`tests/e2e/test_ui_browser.py`).")


if __name__ == "__main__":
    main()
