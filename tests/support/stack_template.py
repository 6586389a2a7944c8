"""The stack's CloudFormation template as JSON, synthesized in a child process (bundling skipped), so that
tests outside tests/infra never import the CDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
_SCRIPT = """
import json, sys, tempfile
import aws_cdk as cdk
from infra.names import STACK_ID
from infra.stack import DockyardStack
context = json.loads(sys.argv[1])
app = cdk.App(outdir=tempfile.mkdtemp(), context={"aws:cdk:bundling-stacks": [], **context})
DockyardStack(app, STACK_ID, env=cdk.Environment(account=sys.argv[2], region=sys.argv[3]))
print(json.dumps(app.synth().get_stack_by_name(STACK_ID).template))
"""


@lru_cache(maxsize=8)
def _synthesize(context_json: str) -> str:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambda_src")])}
    result = subprocess.run([sys.executable, "-c", _SCRIPT, context_json, ACCOUNT, REGION], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"synth failed:\n{result.stderr[-3000:]}")
    return result.stdout


def template(context: dict | None = None) -> dict:
    """The synthesized template of the Dockyard stack with these context options."""
    return json.loads(_synthesize(json.dumps(context or {}, sort_keys=True)))
