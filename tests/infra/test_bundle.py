"""The bundle's identity: its asset key derives from the lock and the bundled source (nothing else), and the
test environment runs the versions the function runs."""

from __future__ import annotations

import importlib.metadata
import shutil

import pytest

from infra import wheels
from tests.infra.conftest import build


def _function_key(stack) -> str:
    from aws_cdk.assertions import Template

    function = next(iter(Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()))
    return function["Properties"]["Code"]["S3Key"]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A copy of the lock and of the package, so that a test can change them."""
    src = tmp_path / "lambda_src"
    shutil.copytree(wheels.LAMBDA_SRC / "dockyard", src / "dockyard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(wheels.LOCK, src / "requirements.lock")
    monkeypatch.setattr(wheels, "LAMBDA_SRC", src)
    monkeypatch.setattr(wheels, "LOCK", src / "requirements.lock")
    return src


def test_the_asset_hash_follows_the_lock_and_the_bundled_source_only(sandbox):
    before = wheels.asset_hash()
    assert wheels.asset_hash() == before
    (sandbox / "dockyard" / "client" / "push.py").write_text("# not bundled\n")
    (sandbox / "dockyard" / "local" / "backend.py").write_text("# not bundled\n")
    assert wheels.asset_hash() == before, "code that is not bundled must not change the asset"
    lock = sandbox / "requirements.lock"
    lock.write_text(lock.read_text().replace("boto3==", "boto3===", 1))
    after_lock = wheels.asset_hash()
    assert after_lock != before
    (sandbox / "dockyard" / "handler.py").write_text("# changed\n")
    assert wheels.asset_hash() not in (before, after_lock)


def test_the_template_names_the_asset_by_that_hash(monkeypatch):
    monkeypatch.setattr(wheels, "asset_hash", lambda: "a" * 64)
    first = _function_key(build())
    assert _function_key(build()) == first
    monkeypatch.setattr(wheels, "asset_hash", lambda: "b" * 64)
    assert _function_key(build()) != first


def test_the_lock_pins_every_distribution_with_hashes():
    text = wheels.LOCK.read_text()
    blocks = [b for b in text.split("\n") if "==" in b and not b.startswith((" ", "#"))]
    assert blocks and all(b.endswith("\\") for b in blocks), "every pin is followed by its hashes"
    assert text.count("--hash=sha256:") >= len(blocks)
    declared = {line.split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for line in (wheels.LAMBDA_SRC / "requirements.in").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert declared <= set(wheels.locked_versions())


def test_the_tests_run_the_versions_the_function_runs():
    """`./dev setup` installs under the lock's pins; boto3 above all, since the function bundles its own."""
    locked = wheels.locked_versions()
    for name in ("boto3", "botocore", "s3transfer", "fastapi", "starlette", "mangum", "pydantic", "pydantic-core",
                 "pyjwt"):
        assert importlib.metadata.version(name) == locked[name], name
