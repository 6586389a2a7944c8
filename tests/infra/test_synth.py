"""`cdk synth` through the pinned CLI: offline (no AWS call, no lookup), bundled locally, without Docker."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cdk_synth_bundles_the_registry_without_docker(tmp_path):
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    assert cdk.exists(), "the pinned CDK CLI is missing: ./dev setup runs npm ci"
    no_docker = tmp_path / "bin"
    no_docker.mkdir()
    (no_docker / "docker").write_text("#!/bin/sh\necho 'docker must not be used' >&2\nexit 1\n")
    (no_docker / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{no_docker}:{os.environ['PATH']}", "CDK_DISABLE_VERSION_CHECK": "true",
           "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CDK_DEFAULT_ACCOUNT"):
        env.pop(name, None)
    out = tmp_path / "cdk.out"
    result = subprocess.run([str(cdk), "synth", "--no-notices", "--quiet", "--output", str(out)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]

    template = json.loads((out / "Dockyard.template.json").read_text())
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    asset = out / function["Metadata"]["aws:asset:path"]
    assert (asset / "dockyard" / "handler.py").is_file()
    assert (asset / "fastapi").is_dir() and (asset / "mangum").is_dir()
    compiled = list(asset.glob("pydantic_core/_pydantic_core*.so"))
    assert compiled and all("aarch64" in p.name for p in compiled), compiled
    for provided_by_the_runtime in ("boto3", "botocore"):
        assert not (asset / provided_by_the_runtime).exists()
    assert not list(asset.rglob("__pycache__"))
    assert not (asset / "dockyard" / "local").exists() and not (asset / "dockyard" / "client").exists()
    [report_path] = out.glob("AwsSolutions-*Dockyard-NagReport.csv")
    report = report_path.read_text()
    assert "Non-Compliant" not in report.replace("Non-Compliant (Suppressed)", "")
