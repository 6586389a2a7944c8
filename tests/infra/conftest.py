"""Stack fixtures: app -> stack -> template, bundling skipped (the synth test bundles for real)."""

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ACCOUNT, REGION = "123456789012", "eu-west-1"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
DOMAIN = {"dockyard:domainName": "registry.example.com", "dockyard:certificateArn": CERTIFICATE,
          "dockyard:hostedZoneId": "Z0123456789ABC", "dockyard:hostedZoneName": "example.com"}


def build(context: dict | None = None):
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.stack import DockyardStack

    app = cdk.App(context={"aws:cdk:bundling-stacks": [], **(context or {})})
    stack = DockyardStack(app, "Dockyard", env=cdk.Environment(account=ACCOUNT, region=REGION))
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    return stack


@pytest.fixture(scope="module")
def stack():
    return build()


@pytest.fixture(scope="module")
def template(stack):
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)
