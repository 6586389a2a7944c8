#!/usr/bin/env python3
"""The CDK app: builds the Dockyard stack, checked by cdk-nag's AwsSolutions pack."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.names import STACK_ID  # noqa: E402
from infra.stack import DockyardStack  # noqa: E402

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
DockyardStack(app, STACK_ID, env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
                                                  region=os.environ.get("CDK_DEFAULT_REGION")))
cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
app.synth()
