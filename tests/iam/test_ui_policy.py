"""The web page under the registry function's role policy (IAM enforced on moto): sign-in with the bootstrap
admin key, every page a person opens, and a delete, with no action beyond what the function holds."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from dockyard.resources import BOOTSTRAP_KEY_ID
from tests.support.auth import basic
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256


class Browser:
    """Keeps the page's cookies by hand: they are `Secure`, and this client talks plain HTTP on loopback."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers={"Cookie": header} if header else {}, **kwargs)
        for cookie in response.headers.get_list("set-cookie"):
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response

    def csrf(self) -> str:
        return self.cookies["dockyard_csrf"]


@pytest.fixture(scope="module")
def content(registry, deployment) -> str:
    admin = basic(BOOTSTRAP_KEY_ID, deployment.admin_secret)
    with httpx.Client(base_url=registry.url, timeout=60) as http:
        config = json.dumps({"architecture": "arm64", "os": "linux", "config": {"Env": ["A=1"]}}).encode()
        layer = b"layer bytes" * 100
        for blob in (config, layer):
            assert http.post("/v2/web/app/blobs/uploads/", params={"digest": sha256(blob)}, content=blob,
                             headers=admin).status_code == 201
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                               "layers": [descriptor(OCI_LAYER, layer)]}).encode()
        for tag in ("v1", "old"):
            assert http.put(f"/v2/web/app/manifests/{tag}", content=manifest,
                            headers={**admin, "Content-Type": OCI_MANIFEST}).status_code == 201
    return sha256(manifest)


def test_the_web_page_works_under_the_role_policy(registry, deployment, content):
    browser = Browser(registry.url)
    browser.request("GET", "/ui/signin")
    signed_in = browser.request("POST", "/ui/signin", data={"key_id": BOOTSTRAP_KEY_ID, "csrf": browser.csrf(),
                                                            "secret": deployment.admin_secret, "next": "/ui/"})
    assert signed_in.status_code == 303 and "dockyard_session" in browser.cookies
    for path, expected in (("/ui/", "web/app"), ("/ui/r/web/app", "linux/arm64"),
                           ("/ui/r/web/app/-/manifests/v1", "A=1"), ("/ui/r/web/app/-/delete/old", "Delete tag old?"),
                           ("/ui/admin/keys", "Create a key"), ("/ui/admin/anonymous", "Public repositories")):
        page = browser.request("GET", path)
        assert page.status_code == 200, (path, page.text[-1500:])
        assert expected in page.text, path
    deleted = browser.request("POST", "/ui/r/web/app/-/delete/old", data={"csrf": browser.csrf()})
    assert deleted.status_code == 303, deleted.text[-1500:]
    assert re.search(r">v1<", browser.request("GET", "/ui/r/web/app").text)
