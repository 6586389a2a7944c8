"""The pull-through cache names itself to upstreams: every request, the token realm's included, carries
Dockyard's User-Agent (not urllib3's)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def test_every_request_to_an_upstream_and_its_token_realm_names_dockyard():
    from dockyard import __version__
    from dockyard.upstream.client import Credentials, UpstreamClient

    seen: list[tuple[str, str | None]] = []

    class Upstream(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path.split("?")[0], self.headers.get("User-Agent")))
            if self.path.startswith("/token"):
                body, status, extra = json.dumps({"token": "t", "expires_in": 300}).encode(), 200, {}
            elif self.headers.get("Authorization") == "Bearer t":
                body, status, extra = b"{}", 200, {}
            else:
                realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
                body, status, extra = b"", 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="up"'}
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **extra}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = UpstreamClient(f"http://127.0.0.1:{server.server_address[1]}", Credentials("u", "p"))
        response = client.request("GET", "/v2/", "repository:library/alpine:pull")
        assert response.status == 200
    finally:
        server.shutdown()
    assert [path for path, _ in seen] == ["/v2/", "/token", "/v2/"]
    assert {agent for _, agent in seen} == {f"dockyard/{__version__} (pull-through cache)"}
