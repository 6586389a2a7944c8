"""Package the registry for Lambda (arm64) without Docker: pip fetches manylinux wheels, we add our package.

boto3 is not bundled: the Lambda runtime provides it, and bundling it would quadruple the asset. Neither
are `dockyard.local` (the embedded moto backend) nor `dockyard.client` (push, gateway): they never run there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
PYTHON_VERSION = "3.13"
PLATFORM = "manylinux2014_aarch64"
# Files of the installed wheels that the function never reads.
PRUNE = ("__pycache__", "*.pyc", "tests", "*.dist-info/RECORD")


@jsii.implements(ILocalBundling)
class PipBundling:
    def try_bundle(self, output_dir: str, *, image, **_) -> bool:
        out = Path(output_dir)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-compile", "--only-binary=:all:", "--implementation", "cp",
                   "--python-version", PYTHON_VERSION, "--platform", PLATFORM,
                   "--target", str(out), "-r", str(LAMBDA_SRC / "requirements.txt")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            # Raise instead of returning False: False would make CDK fall back to Docker, and fail there.
            raise RuntimeError(f"bundling the registry failed:\n{result.stderr[-3000:]}")
        shutil.copytree(LAMBDA_SRC / "dockyard", out / "dockyard",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "local", "client"))
        for pattern in PRUNE:
            for path in list(out.rglob(pattern)):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        return True


def registry_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=PipBundling(),
            command=["false"],  # never used: local bundling always succeeds or raises
        ),
        exclude=["**/__pycache__", "*.egg-info"],
    )
