"""The web page through the real Lambda handler (Function URL events): HTML and static files come back as
text with their headers, and cookies in the event's `cookies` list, as a Function URL needs them."""

import re

from dockyard.handler import make_handler
from tests.support import function_url


def test_pages_static_files_and_cookies_through_the_function_url(settings, monkeypatch):
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    handler = make_handler()
    result = handler(function_url.event("GET", "/ui/", headers={"user-agent": "Mozilla/5.0"}),
                     function_url.LambdaContext())
    assert result["statusCode"] == 200 and not result["isBase64Encoded"]
    headers = {k.lower(): v for k, v in result["headers"].items()}
    assert headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["strict-transport-security"] == "max-age=31536000"  # x-forwarded-proto: https
    [csrf] = [c for c in result["cookies"] if c.startswith("dockyard_csrf=")]
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/ui/"} <= set(csrf.split("; "))
    assert "No repositories yet" in result["body"]

    css = re.search(r"/ui/static/app\.\w+\.css", result["body"])[0]
    asset = function_url.invoke(handler, "GET", css)
    assert asset.status_code == 200 and not asset.base64
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b":root" in asset.content
