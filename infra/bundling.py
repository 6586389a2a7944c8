"""Package the registry for Lambda (arm64) without Docker, from the locked wheels (see `infra.wheels`)."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra import wheels


@jsii.implements(ILocalBundling)
class PipBundling:
    def try_bundle(self, output_dir: str, *, image, **_) -> bool:
        # Raise instead of returning False: False would make CDK fall back to Docker, and fail there.
        wheels.install(Path(output_dir))
        return True


def registry_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(wheels.LAMBDA_SRC),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=wheels.asset_hash(),
        bundling=BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=PipBundling(),
            command=["false"],  # never used: local bundling always succeeds or raises
        ),
        exclude=["**/__pycache__", "*.egg-info"],
    )
