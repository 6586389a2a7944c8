"""cdk-nag (AwsSolutions) suppressions, each with the reason it does not apply."""

from __future__ import annotations

import re

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

from dockyard.resources import BLOB_PREFIX, UPLOAD_PREFIX


def _kms() -> NagPackSuppression:
    return NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="kms:GenerateDataKey* and kms:ReEncrypt* are what S3 and DynamoDB need to use the stack's own "
               "customer managed key; the statement names that one key, no other.",
        applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
    )


def _invokes_gc(gc_arn: str, why: str) -> NagPackSuppression:
    return NagPackSuppression(id="AwsSolutions-IAM5", applies_to=[f"Resource::<{gc_arn}.Arn>:*"],
                              reason=f"{why}: the wildcard covers that one function's versions and aliases, as "
                                     "Lambda grants invoke rights.")


def suppress_findings(stack) -> None:
    registry, storage, front_door = stack.registry, stack.storage, stack.front_door
    bucket_arn = stack.resolve(storage.bucket.bucket_arn)["Fn::GetAtt"][0]
    NagSuppressions.add_resource_suppressions(registry.function, [NagPackSuppression(
        id="AwsSolutions-L1",
        reason="The runtime is pinned to the Python the bundle is locked and built for (CPython 3.13, arm64: "
               "lambda_src/requirements.lock); tests/infra/test_synth.py checks that the runtime and the bundled "
               "compiled wheels agree. A newer runtime means re-locking for it, a deliberate change.",
    )])
    gc_arn = stack.resolve(stack.maintenance.function.function_arn)["Fn::GetAtt"][0]
    NagSuppressions.add_resource_suppressions(registry.role, [_invokes_gc(
        gc_arn, "`dockyard gc` starts a run in the GC function"), NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Object keys are content digests and upload ids that exist only at run time; access is limited "
               "to the registry's own prefixes of its own bucket, the key layout of dockyard.storage.keys.",
        applies_to=[f"Resource::<{bucket_arn}.Arn>/{prefix}*" for prefix in (BLOB_PREFIX, UPLOAD_PREFIX)],
    ), _kms(), NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Upstream credentials of the pull-through cache are secrets the function makes at run time (one "
               "per upstream, a new name per change); access is limited to the function's own name prefix.",
        applies_to=[RegexAppliesTo(regex=r"/^Resource::arn:.+:secretsmanager:.+:secret:"
                                         + re.escape(registry.upstream_secret_prefix).replace("/", r"\/")
                                         + r"\*$/g")],
    )], apply_to_children=True)
    maintenance = stack.maintenance
    NagSuppressions.add_resource_suppressions(maintenance.function, [NagPackSuppression(
        id="AwsSolutions-L1", reason="The same pinned Python 3.13 runtime and bundle as the registry function.")])
    NagSuppressions.add_resource_suppressions(maintenance.role, [NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Garbage collection deletes blob objects and upload leftovers whose keys exist only at run time; "
               "it is limited to those two prefixes of the registry's own bucket.",
        applies_to=[f"Resource::<{bucket_arn}.Arn>/{prefix}*" for prefix in (BLOB_PREFIX, UPLOAD_PREFIX)],
    ), _kms()], apply_to_children=True)
    if maintenance.scheduler_role is not None:
        NagSuppressions.add_resource_suppressions(maintenance.scheduler_role, [
            _invokes_gc(gc_arn, "The schedule may invoke the GC function only")], apply_to_children=True)
    if storage.access_logs is None:
        NagSuppressions.add_resource_suppressions(storage.bucket, [NagPackSuppression(
            id="AwsSolutions-S1",
            reason="S3 server access logs are an option (dockyard:s3AccessLogs=true), off by default because "
                   "they write a log object per burst of blob downloads. Without them, pulls are audited by the "
                   "function when dockyard:auditReads=true (one line per manifest GET); writes and denials "
                   "always are. Blob downloads use presigned URLs that only the function issues.",
        )])
    else:
        NagSuppressions.add_resource_suppressions(storage.access_logs, [NagPackSuppression(
            id="AwsSolutions-S1",
            reason="This is the access-log bucket of the blob bucket; logging it into itself would loop.",
        )])
    if registry.origin_secret is not None:
        NagSuppressions.add_resource_suppressions(registry.origin_secret, [NagPackSuppression(
            id="AwsSolutions-SMG4",
            reason="Not rotated by a Lambda: CloudFront takes a new value only with a stack update of the "
                   "distribution (CloudFormation resolves dynamic references then); the function re-reads the "
                   "secret when a header does not match (at most once a minute), so such an update never locks "
                   "CloudFront out for more than a minute.",
        )])
    for secret, what in ((stack.secrets.signing, "signing keys"), (stack.secrets.bootstrap_admin, "admin key")):
        NagSuppressions.add_resource_suppressions(secret, [NagPackSuppression(
            id="AwsSolutions-SMG4",
            reason=f"The {what} rotate without a rotation Lambda: signing keys with `dockyard signing-key "
                   "rotate` (new key id, the previous one still verifies issued tokens, hosts follow within 15 "
                   "minutes); the bootstrap admin key is meant to be replaced by keys of your own and then "
                   "disabled by emptying its secret.",
        )])
    if front_door is not None and hasattr(front_door, "api"):
        NagSuppressions.add_resource_suppressions(front_door.api, [NagPackSuppression(
            id="AwsSolutions-APIG4",
            reason="The registry authorizes every request itself: access keys, scoped Docker registry "
                   "tokens and per-repository policies; API Gateway forwards, the function decides.",
        )], apply_to_children=True)
    if front_door is not None and hasattr(front_door, "distribution"):
        NagSuppressions.add_resource_suppressions(front_door.distribution, [
            NagPackSuppression(id="AwsSolutions-CFR1", reason="A private registry serves its own users wherever "
                               "they are; access is decided by the registry, not by geography."),
            NagPackSuppression(id="AwsSolutions-CFR2", reason="Nothing is cached and every request is checked by "
                               "the registry itself; a WAF web ACL can be attached by the operator if wanted."),
            NagPackSuppression(id="AwsSolutions-CFR3", reason="Nothing is cached, so every request reaches the "
                               "function: its audit log records every write and denial, and every pull with "
                               "dockyard:auditReads=true. CloudFront standard logs would need an ACL-enabled "
                               "bucket, which this stack does not create."),
        ])
    if stack.edge is not None:
        _suppress_edge(stack.edge)


def _suppress_edge(edge) -> None:
    """Edge downloads (dockyard:edgeDownloads=true): the key maker, its secret and the distribution."""
    NagSuppressions.add_resource_suppressions(edge.key_maker, [NagPackSuppression(
        id="AwsSolutions-L1",
        reason="The key maker runs the registry's own bundle, locked and built for CPython 3.13 on arm64 "
               "(lambda_src/requirements.lock); a newer runtime means re-locking for it, a deliberate change.",
    )])
    NagSuppressions.add_resource_suppressions(edge.key_secret, [NagPackSuppression(
        id="AwsSolutions-SMG4",
        reason="Not rotated by a rotation Lambda: CloudFront trusts the public key through the key group, which "
               "only a stack update changes, so a rotation could not switch keys without breaking the signed "
               "URLs in flight. The key is made inside the key maker (lambda_src/dockyard/edge_keys.py) and "
               "read only by the registry function; it signs download URLs only, each for one blob.",
    )])
    NagSuppressions.add_resource_suppressions(edge.distribution, [
        NagPackSuppression(id="AwsSolutions-CFR1", reason="A private registry serves its own users wherever they "
                           "are; every download needs a URL signed for an authenticated pull, not a place."),
        NagPackSuppression(id="AwsSolutions-CFR2", reason="Every request needs a URL the registry signed for "
                           "one blob, checked by CloudFront before its cache; a WAF web ACL can be attached by the "
                           "operator if wanted."),
        NagPackSuppression(id="AwsSolutions-CFR3", reason="Each download starts with a blob GET to the registry "
                           "function, which signs the URL for an authenticated caller only (its audit log records "
                           "denials); with dockyard:s3AccessLogs=true the edge's cache misses are in S3's access "
                           "logs. CloudFront standard logs would need an ACL-enabled bucket, which this stack "
                           "does not create."),
        NagPackSuppression(id="AwsSolutions-CFR4", reason="The distribution uses its default *.cloudfront.net "
                           "certificate, for which CloudFront fixes the viewer security policy; its viewers are "
                           "container clients (docker, containerd, podman, skopeo: Go's crypto/tls), which refuse "
                           "anything below TLS 1.2 themselves."),
    ])
