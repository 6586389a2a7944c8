"""The stack: private storage, one least-privilege function, outputs; cdk-nag clean in every shape."""

import json

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from dockyard.resources import LAMBDA_MAX_BODY, ORIGIN_HEADER, Env, Table
from tests.infra.conftest import DOMAIN, build


def resource(template, kind) -> tuple[str, dict]:
    found = template.find_resources(kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return next(iter(found.items()))


def function(template, handler: str = "dockyard.handler.handler") -> tuple[str, dict]:
    [found] = [(k, r) for k, r in template.find_resources("AWS::Lambda::Function").items()
               if r["Properties"]["Handler"] == handler]
    return found


def test_bucket_is_private_encrypted_and_cleans_up_uploads(template):
    template.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like({
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "LifecycleConfiguration": {"Rules": Match.array_with([
                Match.object_like({"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}),
                Match.object_like({"Prefix": "uploads/", "ExpirationInDays": 2}),
            ])},
        }),
    })
    template.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})


def test_table_has_the_schema_the_local_server_creates(template):
    _, table = resource(template, "AWS::DynamoDB::GlobalTable")
    local = Table.create_table_kwargs("x")
    props = table["Properties"]
    assert props["KeySchema"] == local["KeySchema"]
    assert props["AttributeDefinitions"] == local["AttributeDefinitions"]
    assert props["BillingMode"] == local["BillingMode"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": Table.TTL_ATTRIBUTE, "Enabled": True}
    replica = props["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_function_runs_the_app_on_arm64_with_the_shared_env_names(template):
    _, registry = function(template)
    props = registry["Properties"]
    assert props["Runtime"] in ("python3.12", "python3.13")
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "dockyard.handler.handler"
    assert props["MemorySize"] == 1024
    env = props["Environment"]["Variables"]
    assert {Env.BUCKET, Env.TABLE, Env.REGION, Env.PRESIGN_TTL, Env.MAX_BODY} <= set(env)
    assert env[Env.MAX_BODY] == str(LAMBDA_MAX_BODY)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_function_url_is_the_front_door_and_the_registry_does_auth(template):
    template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    env = function(template)[1]["Properties"]["Environment"]["Variables"]
    assert env[Env.AUTH] == "on"
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 2
    for secret_id in secrets:
        assert {"Ref": secret_id} in (env[Env.SIGNING_SECRET], env[Env.BOOTSTRAP_SECRET])
    statements = _statements(template)
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]
             and s.get("Sid") != "UpstreamCredentials"]
    assert {json.dumps(r["Resource"], sort_keys=True) for r in reads} == {
        json.dumps({"Ref": secret_id}) for secret_id in secrets}


def test_upstream_credentials_are_secrets_under_the_functions_own_prefix_only(template):
    env = function(template)[1]["Properties"]["Environment"]["Variables"]
    prefix = env[Env.UPSTREAM_SECRET_PREFIX]
    assert prefix == "dockyard/Dockyard/upstreams/"
    [statement] = [s for s in _statements(template) if s.get("Sid") == "UpstreamCredentials"]
    assert sorted(statement["Action"]) == ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
                                           "secretsmanager:GetSecretValue"]
    assert json.dumps(statement["Resource"]).endswith(f':secret:{prefix}*"]]}}')
    assert int(env[Env.FETCH_MAX_BYTES]) == int(env[Env.FETCH_DEADLINE]) * 20 * 1000 * 1000


def _statements(template, handler: str = "dockyard.handler.handler") -> list[dict]:
    """The statements of the function's role."""
    from tests.support.cfn import role_of, role_statements

    return role_statements(template.to_json(), role_of(function(template, handler)[1]))


def test_iam_is_scoped_to_this_bucket_and_this_table(template):
    bucket_id, _ = resource(template, "AWS::S3::Bucket")
    table_id, _ = resource(template, "AWS::DynamoDB::GlobalTable")
    for handler in ("dockyard.handler.handler", "dockyard.maintenance.function.handler"):
        for statement in _statements(template, handler):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            rendered = json.dumps(resources)
            assert "*\"" not in rendered.replace("/*\"", "").replace(':*"', '"') and rendered != '["*"]', statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("s3:") for a in actions):
                assert bucket_id in rendered
            if any(a.startswith("dynamodb:") for a in actions):
                assert table_id in rendered and ("index" not in rendered or "/index/gc-queue" in rendered)
                assert not {"dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:*"} & set(actions)
    assert not template.find_resources("AWS::IAM::ManagedPolicy")
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_outputs(template):
    outputs = template.to_json()["Outputs"]
    assert {"RegistryUrl", "RegistryHost", "BucketName", "TableName", "FunctionName", "AdminSecretArn",
            "SigningSecretArn"} <= set(outputs)


@pytest.mark.parametrize("context", [
    {},
    {"dockyard:kms": "true", "dockyard:removalPolicy": "destroy"},
    {**DOMAIN, "dockyard:frontDoor": "cloudfront"},
    {**DOMAIN, "dockyard:frontDoor": "apigateway"},
    {**DOMAIN, "dockyard:frontDoor": "apigateway", "dockyard:functionUrlAuth": "AWS_IAM"},
    {"dockyard:reservedConcurrency": "none"},
    {"dockyard:s3AccessLogs": "true", "dockyard:auditReads": "true", "dockyard:kms": "true"},
    {"dockyard:edgeDownloads": "true"},
    {"dockyard:edgeDownloads": "true", "dockyard:kms": "true", "dockyard:s3AccessLogs": "true", **DOMAIN},
], ids=["default", "kms-destroy", "cloudfront", "apigateway", "apigateway-iam", "no-reservation", "read-audit",
        "edge", "edge-kms-domain"])
def test_cdk_nag_aws_solutions_has_no_unsuppressed_finding(context):
    stack = build(context)
    annotations = Annotations.from_stack(stack)
    findings = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) + \
        annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert findings == [], [f"{f.id}: {f.entry.data}" for f in findings]
    assert annotations.find_error("*", Match.any_value()) == []


def test_function_url_can_require_sigv4_as_well():
    template = Template.from_stack(build({"dockyard:functionUrlAuth": "AWS_IAM"}))
    template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM"})


def test_kms_and_destroy_options():
    template = Template.from_stack(build({"dockyard:kms": "true", "dockyard:removalPolicy": "destroy"}))
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties("AWS::S3::Bucket", {"BucketEncryption": {
        "ServerSideEncryptionConfiguration": [Match.object_like(
            {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})]}})
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    _, table = resource(template, "AWS::DynamoDB::GlobalTable")
    assert table["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is False


def test_context_sizes_the_function():
    template = Template.from_stack(build({"dockyard:memoryMb": "2048", "dockyard:reservedConcurrency": "20",
                                          "dockyard:logRetentionDays": "90", "dockyard:presignTtlSeconds": "60"}))
    template.has_resource_properties("AWS::Lambda::Function", {
        "MemorySize": 2048, "ReservedConcurrentExecutions": 20,
        "Environment": {"Variables": Match.object_like({Env.PRESIGN_TTL: "60"})}})
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_custom_domain_with_cloudfront():
    template = Template.from_stack(build({**DOMAIN, "dockyard:frontDoor": "cloudfront"}))
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "Aliases": ["registry.example.com"],
        "ViewerCertificate": Match.object_like({"AcmCertificateArn": DOMAIN["dockyard:certificateArn"],
                                                "MinimumProtocolVersion": "TLSv1.2_2021"}),
    })})
    template.has_resource_properties("AWS::Route53::RecordSet", {"Name": "registry.example.com.", "Type": "A"})
    assert template.to_json()["Outputs"]["RegistryHost"]["Value"] == "registry.example.com"
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like(
        {Env.PUBLIC_URL: "https://registry.example.com"})}})


def test_custom_domain_with_api_gateway():
    template = Template.from_stack(build({**DOMAIN, "dockyard:frontDoor": "apigateway"}))
    template.has_resource_properties("AWS::ApiGatewayV2::DomainName", {"DomainName": "registry.example.com"})
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {"AccessLogSettings": Match.object_like({})})
    template.has_resource_properties("AWS::Route53::RecordSet", {"Type": "A"})


@pytest.mark.parametrize("context", [{"dockyard:removalPolicy": "maybe"}, {"dockyard:functionUrlAuth": "open"},
                                     {"dockyard:domainName": "r.example.com"},
                                     {"dockyard:logRetentionDays": "31"}, {"dockyard:reservedConcurrency": "0"},
                                     {"dockyard:reservedConcurrency": "-5"}, {"dockyard:gcSchedule": "daily"},
                                     {"dockyard:gcGraceSeconds": "-1"}])
def test_bad_context_is_refused(context):
    with pytest.raises(ValueError):
        build(context)


def test_the_role_may_list_its_bucket_so_that_a_missing_key_is_a_404(template):
    """Without s3:ListBucket, S3 answers 403 for a missing key, and a grant conditioned on s3:prefix does not
    cover HeadObject (tests/unit/test_s3_missing_keys.py shows what the code does with each answer)."""
    bucket_id, _ = resource(template, "AWS::S3::Bucket")
    [listing] = [s for s in _statements(template) if "s3:ListBucket" in s["Action"]]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert "Condition" not in listing


def test_lifecycle_rules_are_the_ones_the_local_server_gives_its_buckets(template):
    from dockyard.resources import LIFECYCLE_RULES

    _, bucket = resource(template, "AWS::S3::Bucket")
    deployed = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    expected = {}
    for rule in LIFECYCLE_RULES:
        cfn = {"Id": rule.id, "Status": "Enabled"}
        if rule.abort_multipart:
            cfn["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": rule.days}
        else:
            cfn["ExpirationInDays"] = rule.days
        if rule.prefix:
            cfn["Prefix"] = rule.prefix
        if rule.tag:
            cfn["TagFilters"] = [{"Key": rule.tag[0], "Value": rule.tag[1]}]
        expected[rule.id] = cfn
    assert deployed == expected


def test_concurrency_is_capped_by_default(template):
    template.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": 50})
    unreserved = Template.from_stack(build({"dockyard:reservedConcurrency": "none"}))
    _, registry = function(unreserved)
    assert "ReservedConcurrentExecutions" not in registry["Properties"]


def test_blobs_sent_in_parts_are_bounded_by_what_one_invocation_can_verify(template):
    from infra.constructs.registry_function import TIMEOUT, VERIFY_MAX

    _, registry = function(template)
    assert registry["Properties"]["Timeout"] == TIMEOUT.to_seconds()
    assert registry["Properties"]["Environment"]["Variables"][Env.VERIFY_MAX] == str(VERIFY_MAX)
    assert VERIFY_MAX < (TIMEOUT.to_seconds() - 30) * 50_000_000


def test_behind_cloudfront_the_url_requires_a_secret_origin_header():
    template = Template.from_stack(build({**DOMAIN, "dockyard:frontDoor": "cloudfront"}))
    _, distribution = resource(template, "AWS::CloudFront::Distribution")
    [origin] = distribution["Properties"]["DistributionConfig"]["Origins"]
    [header] = origin["CustomOriginConfig"] and origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_HEADER
    rendered = json.dumps(header["HeaderValue"])
    secret_id = next(k for k, r in template.find_resources("AWS::SecretsManager::Secret").items()
                     if "origin header" in r["Properties"]["Description"])
    assert "{{resolve:secretsmanager:" in rendered and secret_id in rendered  # a reference, never the value
    env = function(template)[1]["Properties"]["Environment"]["Variables"]
    assert env[Env.ORIGIN_SECRET] == {"Ref": secret_id}
    assert any(r["Resource"] == {"Ref": secret_id} for r in _statements(template)
               if "secretsmanager:GetSecretValue" in r["Action"])
    template.resource_count_is("AWS::Lambda::Url", 1)


def test_behind_api_gateway_there_is_no_function_url():
    template = Template.from_stack(build({**DOMAIN, "dockyard:frontDoor": "apigateway"}))
    template.resource_count_is("AWS::Lambda::Url", 0)
    env = function(template)[1]["Properties"]["Environment"]["Variables"]
    assert Env.ORIGIN_SECRET not in env
    template.resource_count_is("AWS::SecretsManager::Secret", 2)


def test_cloudfront_with_an_iam_function_url_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="overwriting the client's Authorization header"):
        build({**DOMAIN, "dockyard:frontDoor": "cloudfront", "dockyard:functionUrlAuth": "AWS_IAM"})


def test_regions_without_function_urls_need_api_gateway():
    import aws_cdk as cdk

    from infra.stack import DockyardStack

    for context in ({}, {**DOMAIN, "dockyard:frontDoor": "cloudfront"}):
        app = cdk.App(context={"aws:cdk:bundling-stacks": [], **context})
        with pytest.raises(ValueError, match="no Function URLs in eu-central-2"):
            DockyardStack(app, "Dockyard", env=cdk.Environment(account="123456789012", region="eu-central-2"))
    app = cdk.App(context={"aws:cdk:bundling-stacks": [], **DOMAIN, "dockyard:frontDoor": "apigateway"})
    DockyardStack(app, "Dockyard", env=cdk.Environment(account="123456789012", region="eu-central-2"))


def test_lambda_writes_no_platform_lines_but_keeps_the_apps_own(template):
    """START, END and REPORT cost more than a million pulls' compute (benchmarks/calls_and_cost.py)."""
    template.has_resource_properties("AWS::Lambda::Function", {"LoggingConfig": {
        "LogFormat": "JSON", "SystemLogLevel": "WARN", "ApplicationLogLevel": "INFO",
        "LogGroup": Match.any_value()}})


def test_reads_are_auditable_behind_options(template):
    env = function(template)[1]["Properties"]["Environment"]["Variables"]
    assert env[Env.AUDIT_READS] == "off"
    assert len(template.find_resources("AWS::S3::Bucket")) == 1
    audited = Template.from_stack(build({"dockyard:s3AccessLogs": "true", "dockyard:auditReads": "true"}))
    env = function(audited)[1]["Properties"]["Environment"]["Variables"]
    assert env[Env.AUDIT_READS] == "on"
    buckets = audited.find_resources("AWS::S3::Bucket")
    [(blobs_id, blobs)] = [(k, b) for k, b in buckets.items() if "LoggingConfiguration" in b["Properties"]]
    [(logs_id, logs)] = [(k, b) for k, b in buckets.items() if k != blobs_id]
    assert blobs["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    assert logs["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_every_nag_suppression_reason_is_true_of_this_code():
    """The reasons name options and tests: they must exist."""
    import re
    from pathlib import Path

    from infra import nag
    from infra.names import Context

    source = Path(nag.__file__).read_text()
    root = Path(nag.__file__).resolve().parents[1]
    for option in set(re.findall(r"dockyard:\w+", source)):
        assert option in vars(Context).values(), option
    for path in set(re.findall(r"(?:tests|lambda_src)/[\w/.]+\.\w+", source)):
        assert (root / path).exists(), path


def _deletes_blobs(statements: list[dict]) -> bool:
    return any("s3:DeleteObject" in s["Action"] and "/blobs/*" in json.dumps(s["Resource"]) for s in statements)


def test_only_the_gc_function_may_delete_blob_objects(template):
    assert _deletes_blobs(_statements(template, "dockyard.maintenance.function.handler"))
    registry = _statements(template)
    assert not _deletes_blobs(registry)
    assert not any("s3:DeleteObjectTagging" in s["Action"] for s in registry)
    [invoke] = [s for s in registry if "lambda:InvokeFunction" in s["Action"]]
    gc_id, _ = function(template, "dockyard.maintenance.function.handler")
    assert gc_id in json.dumps(invoke["Resource"])


def test_gc_runs_daily_by_default_in_a_function_of_its_own(template):
    gc_id, gc = function(template, "dockyard.maintenance.function.handler")
    assert gc["Properties"]["Timeout"] == 900
    env = gc["Properties"]["Environment"]["Variables"]
    assert env[Env.GC_GRACE] == "86400" and Env.AUTH not in env
    assert function(template)[1]["Properties"]["Environment"]["Variables"][Env.GC_FUNCTION] == {"Ref": gc_id}
    template.has_resource_properties("AWS::Scheduler::Schedule", {
        "ScheduleExpression": "rate(1 day)", "State": "ENABLED",
        "Target": Match.object_like({"Arn": {"Fn::GetAtt": [gc_id, "Arn"]}, "Input": '{"scheduled":true}'})})
    _, table = resource(template, "AWS::DynamoDB::GlobalTable")
    [index] = table["Properties"]["GlobalSecondaryIndexes"]
    assert index == {**Table.create_table_kwargs("x")["GlobalSecondaryIndexes"][0]}


def test_the_gc_schedule_and_grace_are_context_options():
    template = Template.from_stack(build({"dockyard:gcSchedule": "cron(0 3 * * ? *)",
                                          "dockyard:gcGraceSeconds": "3600"}))
    template.has_resource_properties("AWS::Scheduler::Schedule", {"ScheduleExpression": "cron(0 3 * * ? *)"})
    assert function(template, "dockyard.maintenance.function.handler")[1]["Properties"]["Environment"][
        "Variables"][Env.GC_GRACE] == "3600"
    assert not Template.from_stack(build({"dockyard:gcSchedule": "off"})).find_resources("AWS::Scheduler::Schedule")
