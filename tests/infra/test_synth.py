"""`cdk synth` through the pinned CLI, really offline: no network namespace but loopback (`unshare -n`), or,
where that is not allowed, every package index and proxy pointed at a closed loopback port. The bundle comes
from the locked wheels in the primed cache, hash-checked, without Docker."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import wheels

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


def _offline_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def offline_env(tmp_path: Path, extra_env: dict | None = None) -> dict:
    no_docker = tmp_path / "bin"
    no_docker.mkdir(exist_ok=True)
    (no_docker / "docker").write_text("#!/bin/sh\necho 'docker must not be used' >&2\nexit 1\n")
    (no_docker / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{no_docker}:{os.environ['PATH']}", "CDK_DISABLE_VERSION_CHECK": "true",
           "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           # Should anything still try the network, it meets a closed port (belt and braces with unshare).
           "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"{CLOSED}/simple", "PIP_EXTRA_INDEX_URL": "",
           "PIP_FIND_LINKS": "",
           "HTTP_PROXY": CLOSED, "HTTPS_PROXY": CLOSED, "http_proxy": CLOSED, "https_proxy": CLOSED,
           "NO_PROXY": "", "no_proxy": "", **(extra_env or {})}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CDK_DEFAULT_ACCOUNT"):
        env.pop(name, None)
    return env


def synth(tmp_path: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    assert cdk.exists(), "the pinned CDK CLI is missing: ./dev setup runs npm ci"
    env = offline_env(tmp_path, extra_env)
    out = tmp_path / "cdk.out"
    return subprocess.run([*_offline_prefix(), str(cdk), "synth", "--no-notices", "--quiet", "--output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    assert wheels.cache_dir().is_dir(), "the wheel cache is not primed: ./dev setup primes it"
    tmp_path = tmp_path_factory.mktemp("synth")
    result = synth(tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    out = tmp_path / "cdk.out"
    template = json.loads((out / "Dockyard.template.json").read_text())
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    return out, function, out / function["Metadata"]["aws:asset:path"]


def test_the_offline_guard_really_cuts_pip_off(tmp_path):
    """Where synth runs, pip cannot fetch a thing: the guard is real, so the synth below proves offline."""
    result = subprocess.run([*_offline_prefix(), sys.executable, "-m", "pip", "download", "--no-deps",
                             "--no-cache-dir", "--retries", "0", "--timeout", "3", "--dest", str(tmp_path),
                             "six"], env=offline_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    assert not list(tmp_path.glob("*.whl"))


def test_cdk_synth_bundles_the_locked_wheels_offline_without_docker(synthesized):
    out, function, asset = synthesized
    assert (asset / "dockyard" / "handler.py").is_file()
    compiled = list(asset.glob("pydantic_core/_pydantic_core*.so"))
    assert compiled and all("aarch64" in p.name for p in compiled), compiled
    # The runtime is the Python the bundle was built for (the reason the L1 nag finding is suppressed).
    version = wheels.PYTHON_VERSION.replace(".", "")
    assert function["Properties"]["Runtime"] == f"python{wheels.PYTHON_VERSION}"
    assert all(f"cpython-{version}-aarch64" in p.name for p in compiled), compiled
    installed = {d.name.split("-")[0].lower().replace("_", "-"): d.name.removesuffix(".dist-info").split("-")[1]
                 for d in asset.glob("*.dist-info")}
    locked = wheels.locked_versions()
    assert installed == locked, "the bundle holds exactly the locked distributions"
    assert not (asset / "bin").exists(), "bin/ scripts carry the build machine's interpreter path"
    check_bytecode(asset)
    assert not (asset / "dockyard" / "local").exists() and not (asset / "dockyard" / "client").exists()
    assert str(ROOT) not in "".join(p.read_text(errors="replace") for p in asset.rglob("*.py")
                                    if "dockyard" not in p.parts)
    [report_path] = out.glob("AwsSolutions-*Dockyard-NagReport.csv")
    report = report_path.read_text()
    assert "Non-Compliant" not in report.replace("Non-Compliant (Suppressed)", "")


def check_bytecode(asset: Path) -> None:
    """Every module has byte code of the runtime's version next to it, checked by the source's hash (never
    its time), naming its source where Lambda unpacks it; without such an interpreter here, none at all."""
    compiler = wheels.bundle_python()
    sources = list(asset.rglob("*.py"))
    compiled = list(asset.rglob("*.pyc"))
    if compiler is None:
        assert compiled == []
        return
    tag = f"cpython-{wheels.PYTHON_VERSION.replace('.', '')}"
    assert len(compiled) == len(sources) > 700
    assert all((p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file() for p in sources)
    magic = subprocess.run([compiler[0], "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
                           capture_output=True, text=True, check=True).stdout
    for pyc in compiled:
        head = pyc.read_bytes()
        assert head[:4].hex() == magic and int.from_bytes(head[4:8], "little") == 0b01, pyc  # unchecked hash
        assert str(ROOT).encode() not in head and str(asset).encode() not in head, pyc
    handler = (asset / "dockyard" / "__pycache__" / f"handler.{tag}.pyc").read_bytes()
    assert f"{wheels.RUNTIME_ROOT}/dockyard/handler.py".encode() in handler


def test_the_bundled_boto3_is_the_locked_one_and_makes_every_client_the_function_uses(synthesized):
    """The function imports boto3 from its bundle (/var/task comes before the runtime's copy on sys.path);
    the pruned models still serve each service the function calls."""
    _, _, asset = synthesized
    locked = wheels.locked_versions()
    from dockyard.resources import AWS_SERVICES

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import boto3, botocore; assert boto3.__file__.startswith(sys.argv[1]), boto3.__file__; "
            "print(boto3.__version__, botocore.__version__); s = boto3.session.Session(region_name='eu-west-1'); "
            "[s.client(n, aws_access_key_id='x', aws_secret_access_key='y') for n in sys.argv[2:]]")
    # -S: no site-packages, so nothing but the bundle (and the standard library) can be imported.
    result = subprocess.run([sys.executable, "-S", "-c", code, str(asset), *AWS_SERVICES],
                            capture_output=True, text=True, cwd=asset)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [locked["boto3"], locked["botocore"]]
    models = {p.name for p in (asset / "botocore" / "data").iterdir() if p.is_dir()}
    assert models == set(AWS_SERVICES)


def test_synth_fails_clearly_without_a_primed_cache(tmp_path):
    result = synth(tmp_path, {"DOCKYARD_WHEEL_CACHE": str(tmp_path / "empty")})
    assert result.returncode != 0
    assert "./dev setup" in result.stderr, result.stderr[-2000:]
