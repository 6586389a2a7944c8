"""Edge downloads in synth: CloudFront reaches only the blob prefix, through origin access control, for signed
URLs of the stack's own key, which no template holds."""

import json

import pytest
from aws_cdk.assertions import Template

from dockyard.resources import BLOB_PREFIX, Env
from infra.constructs.edge import KEY_MAKER_HANDLER
from tests.infra.conftest import build

EDGE = {"dockyard:edgeDownloads": "true"}


@pytest.fixture(scope="module")
def edge():
    return Template.from_stack(build(EDGE))


def one(template, kind) -> tuple[str, dict]:
    found = template.find_resources(kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return next(iter(found.items()))


def function(template, handler: str) -> tuple[str, dict]:
    [found] = [(k, f) for k, f in template.find_resources("AWS::Lambda::Function").items()
               if f["Properties"]["Handler"] == handler]
    return found


def role_statements(template, function_props) -> list[dict]:
    role = function_props["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_off_by_default(template):
    assert not template.find_resources("AWS::CloudFront::Distribution")
    assert not template.find_resources("AWS::CloudFront::KeyGroup")
    env = function(template, "dockyard.handler.handler")[1]["Properties"]["Environment"]["Variables"]
    assert not {Env.EDGE_URL, Env.EDGE_KEY_ID, Env.EDGE_KEY_SECRET} & set(env)


def test_the_distribution_reaches_only_the_blob_prefix_through_origin_access_control(edge):
    oac_id, oac = one(edge, "AWS::CloudFront::OriginAccessControl")
    assert oac["Properties"]["OriginAccessControlConfig"] == {
        **oac["Properties"]["OriginAccessControlConfig"], "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always", "SigningProtocol": "sigv4"}
    assert not edge.find_resources("AWS::CloudFront::CloudFrontOriginAccessIdentity")  # no legacy OAI
    bucket_id, _ = one(edge, "AWS::S3::Bucket")
    _, distribution = one(edge, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["OriginPath"] == "/" + BLOB_PREFIX.rstrip("/")  # no URL names a key outside blobs/
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert "CacheBehaviors" not in config  # one behaviour, to that origin only
    behavior = config["DefaultCacheBehavior"]
    assert behavior["AllowedMethods"] == ["GET", "HEAD"] and behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["Compress"] is False


def test_the_bucket_lets_only_this_distribution_get_only_blobs(edge):
    bucket_id, _ = one(edge, "AWS::S3::Bucket")
    distribution_id, _ = one(edge, "AWS::CloudFront::Distribution")
    _, policy = one(edge, "AWS::S3::BucketPolicy")
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    [grant] = allows
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert grant["Action"] == "s3:GetObject"
    assert grant["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{BLOB_PREFIX}*"]]}
    [(operator, condition)] = grant["Condition"].items()
    assert operator == "StringEquals" and list(condition) == ["AWS:SourceArn"]
    arn = json.dumps(condition["AWS:SourceArn"])
    assert ":cloudfront::" in arn and ":distribution/" in arn and {"Ref": distribution_id} in \
        condition["AWS:SourceArn"]["Fn::Join"][1]


def test_every_request_needs_a_url_signed_by_the_stacks_own_key(edge):
    group_id, group = one(edge, "AWS::CloudFront::KeyGroup")
    key_id, public_key = one(edge, "AWS::CloudFront::PublicKey")
    maker_id, _ = function(edge, KEY_MAKER_HANDLER)
    resource_id, resource = one(edge, "Custom::DockyardEdgeKey")
    secret_id = resource["Properties"]["SecretId"]["Ref"]
    _, distribution = one(edge, "AWS::CloudFront::Distribution")
    assert distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]["TrustedKeyGroups"] == \
        [{"Ref": group_id}]
    assert group["Properties"]["KeyGroupConfig"]["Items"] == [{"Ref": key_id}]
    assert public_key["Properties"]["PublicKeyConfig"]["EncodedKey"] == {"Fn::GetAtt": [resource_id, "PublicKey"]}
    assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [maker_id, "Arn"]}
    assert "BEGIN" not in json.dumps(edge.to_json())  # no key of any kind in the template
    env = function(edge, "dockyard.handler.handler")[1]["Properties"]["Environment"]["Variables"]
    assert env[Env.EDGE_KEY_ID] == {"Ref": key_id}
    assert env[Env.EDGE_KEY_SECRET] == {"Ref": secret_id}
    distribution_id, _ = one(edge, "AWS::CloudFront::Distribution")
    assert env[Env.EDGE_URL] == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}
    assert edge.to_json()["Outputs"]["EdgeDomainName"]["Value"] == {"Fn::GetAtt": [distribution_id, "DomainName"]}


def test_the_registry_may_read_the_key_and_only_the_key_maker_may_write_it(edge):
    secret_id = one(edge, "Custom::DockyardEdgeKey")[1]["Properties"]["SecretId"]["Ref"]
    registry = role_statements(edge, function(edge, "dockyard.handler.handler")[1])
    on_key = [s for s in registry if s["Resource"] == {"Ref": secret_id}]
    assert [sorted(s["Action"]) for s in on_key] == [["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]]
    maker = role_statements(edge, function(edge, KEY_MAKER_HANDLER)[1])
    assert {json.dumps(s["Resource"]) for s in maker if s.get("Sid") == "EdgeSigningKey"} == \
        {json.dumps({"Ref": secret_id})}
    assert sorted(a for s in maker for a in s["Action"]) == [
        "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
    assert not [s for s in registry if "secretsmanager:PutSecretValue" in s["Action"]]
    env = function(edge, KEY_MAKER_HANDLER)[1]["Properties"]
    assert "ReservedConcurrentExecutions" not in env and set(env["Environment"]["Variables"]) == {Env.REGION}


def test_with_a_customer_managed_key_cloudfront_may_decrypt_for_this_accounts_distributions_only():
    template = Template.from_stack(build({**EDGE, "dockyard:kms": "true"}))
    _, key = one(template, "AWS::KMS::Key")
    [grant] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert grant["Action"] == "kms:Decrypt"
    arn = json.dumps(grant["Condition"]["ArnLike"]["AWS:SourceArn"])
    assert ":cloudfront::123456789012:distribution/*" in arn
