"""Client pieces of `dockyard push`: credentials, destinations, progress output, sources."""

import base64
import io
import json

import pytest

from dockyard.client.credentials import Credentials, resolve
from dockyard.client.http import base_url
from dockyard.client.progress import Progress
from dockyard.client.push import Destination
from dockyard.client.source import SourceError, load


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("DOCKYARD_KEY_ID", "DOCKYARD_SECRET", "DOCKYARD_ADMIN_KEY_ID", "DOCKYARD_ADMIN_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def test_credentials_from_the_flag_then_the_environment(clean_env, monkeypatch):
    assert resolve("r.example", "dyk_a:dys_b") == Credentials("dyk_a", "dys_b")
    monkeypatch.setenv("DOCKYARD_ADMIN_KEY_ID", "admin")
    monkeypatch.setenv("DOCKYARD_ADMIN_SECRET", "s")
    assert resolve("r.example") == Credentials("admin", "s")
    monkeypatch.setenv("DOCKYARD_KEY_ID", "dyk_ci")
    monkeypatch.setenv("DOCKYARD_SECRET", "dys_ci")
    assert resolve("r.example") == Credentials("dyk_ci", "dys_ci")
    with pytest.raises(ValueError):
        Credentials.parse("no-colon")


def test_credentials_from_the_docker_config(clean_env):
    auth = base64.b64encode(b"dyk_x:dys_y").decode()
    (clean_env / "config.json").write_text(json.dumps({"auths": {
        "r.example": {"auth": auth},
        "https://t.example": {"auth": base64.b64encode(b"dyk_t:").decode(), "identitytoken": "refresh-me"},
    }}))
    assert resolve("r.example") == Credentials("dyk_x", "dys_y")
    assert resolve("t.example") == Credentials("dyk_t", "", "refresh-me")
    assert resolve("unknown.example") is None


def test_a_missing_credential_helper_is_not_fatal(clean_env):
    (clean_env / "config.json").write_text(json.dumps({"credsStore": "does-not-exist"}))
    assert resolve("r.example") is None


@pytest.mark.parametrize("text,expected", [
    ("r.example/team/app:1.0", ("r.example", "team/app", "1.0")),
    ("127.0.0.1:5000/app", ("127.0.0.1:5000", "app", "latest")),
    ("r.example:443/a/b/c@sha256:" + "a" * 64, ("r.example:443", "a/b/c", "sha256:" + "a" * 64)),
])
def test_destinations(text, expected):
    d = Destination.parse(text)
    assert (d.host, d.repository, d.reference) == expected


def test_loopback_is_plain_http():
    assert base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert base_url("localhost:5000") == "http://localhost:5000"
    assert base_url("r.example") == "https://r.example"
    assert base_url("r.example", insecure=True) == "http://r.example"


def test_progress_without_a_terminal_is_one_line_per_blob():
    out = io.StringIO()
    progress = Progress(300, stream=out, tty=False)
    progress.start("sha256:" + "a" * 64, 300)
    progress.advance("sha256:" + "a" * 64, 300)
    progress.finish("sha256:" + "a" * 64, "pushed (single)", 300)
    assert out.getvalue() == f"sha256:{'a' * 12}       300 B  pushed (single)\n"


def test_progress_on_a_terminal_draws_bars():
    out = io.StringIO()
    progress = Progress(2 << 20, stream=out, tty=True)
    progress.start("sha256:" + "b" * 64, 2 << 20)
    progress.advance("sha256:" + "b" * 64, 1 << 20)
    progress.log("note")
    assert "[###############...............]  50.0%" in out.getvalue() and "total" in out.getvalue()


def test_bad_sources(tmp_path):
    with pytest.raises(SourceError):
        load(f"oci:{tmp_path}")
    with pytest.raises(SourceError):
        load(f"tarball:{tmp_path}")


def test_skipped_blobs_count_toward_the_total_and_nothing_is_drawn_after_the_last_line():
    out = io.StringIO()
    progress = Progress(1000, stream=out, tty=True)
    progress.finish("sha256:" + "e" * 64, "exists", 600)  # skipped: never started, never advanced
    progress.start("sha256:" + "f" * 64, 400)
    progress.advance("sha256:" + "f" * 64, 100)
    progress.finish("sha256:" + "f" * 64, "mounted", 400)  # the rest of it was not sent either
    assert progress.done == progress.total
    totals = [line for line in out.getvalue().splitlines() if "total" in line]
    assert "[##############################] 100.0%" in totals[-1]
    progress.close("pushed r/app:v1")
    progress.log("late note")
    assert out.getvalue().endswith("pushed r/app:v1\nlate note\n")  # no bar redrawn under the final line


def test_credentials_say_where_they_came_from(clean_env, monkeypatch):
    assert resolve("r.example", "dyk_a:dys_b").describe() == "key dyk_a (from --creds)"
    monkeypatch.setenv("DOCKYARD_KEY_ID", "dyk_ci")
    monkeypatch.setenv("DOCKYARD_SECRET", "dys_ci")
    assert resolve("r.example").describe() == "key dyk_ci (from DOCKYARD_KEY_ID and DOCKYARD_SECRET)"
