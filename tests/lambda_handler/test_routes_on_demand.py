"""An instance that serves only the distribution API never imports the admin API, direct pushes or the web
page (its cold start stays near a bare FastAPI app's); the first other request adds them, and they answer."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import json, sys
from dockyard.handler import handler
from tests.support.function_url import LambdaContext, event

OTHERS = ("dockyard.ui", "dockyard.api.admin", "dockyard.api.direct", "dockyard.api.governance",
          "dockyard.api.maintenance")
seen = []
for path in sys.argv[1:]:
    result = handler(event("GET", path), LambdaContext())
    seen.append([path, result["statusCode"], result.get("body", "")[:300], sorted(m for m in OTHERS if m in sys.modules)])
print(json.dumps(seen))
"""


def _run(*paths: str) -> list:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'lambda_src'}", "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1",
           "DOCKYARD_BUCKET": "b", "DOCKYARD_TABLE": "t", "DOCKYARD_AUTH": "off"}
    result = subprocess.run([sys.executable, "-c", CODE, *paths], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_distribution_requests_import_nothing_else_and_the_first_other_request_adds_the_rest():
    probe, token, other, home, page, again = _run("/v2/", "/token", "/dockyard/v1/nothing-here", "/", "/ui/nothing",
                                                  "/v2/")
    assert probe[1] in (200, 401) and probe[3] == [] and token[3] == []
    assert other[3] == sorted(["dockyard.ui", "dockyard.api.admin", "dockyard.api.direct", "dockyard.api.governance",
                               "dockyard.api.maintenance"])
    assert other[1] in (401, 404) and json.loads(other[2])["errors"][0]["code"]  # the admin API's own answer
    assert home[1] == 302  # the web page's own routes: its home redirect, its HTML "no such page"
    assert page[1] == 404 and page[2].startswith("<!doctype html>"), page
    assert again[1] == probe[1]
