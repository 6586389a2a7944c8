"""Context options of the stack, parsed and checked once."""

from __future__ import annotations

from dataclasses import dataclass

from infra.names import Context


@dataclass(frozen=True)
class StackOptions:
    retain: bool = True
    kms: bool = False
    memory_mb: int = 1024
    reserved_concurrency: int | None = None
    log_retention_days: int = 30
    presign_ttl: int = 300
    url_auth: str = "NONE"
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    front_door: str = "cloudfront"

    @classmethod
    def from_context(cls, node) -> StackOptions:
        def get(name, default=None):
            value = node.try_get_context(name)
            return default if value is None or value == "" else value

        def flag(name, default: bool) -> bool:
            value = get(name, default)
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")

        removal = str(get(Context.REMOVAL_POLICY, "retain")).lower()
        if removal not in ("retain", "destroy"):
            raise ValueError(f"{Context.REMOVAL_POLICY} must be retain or destroy, not {removal!r}")
        url_auth = str(get(Context.URL_AUTH, "NONE")).upper()
        if url_auth not in ("AWS_IAM", "NONE"):
            raise ValueError(f"{Context.URL_AUTH} must be AWS_IAM or NONE")
        front_door = str(get(Context.FRONT_DOOR, "cloudfront")).lower()
        if front_door not in ("cloudfront", "apigateway"):
            raise ValueError(f"{Context.FRONT_DOOR} must be cloudfront or apigateway")
        concurrency = get(Context.RESERVED_CONCURRENCY)
        options = cls(
            retain=removal == "retain",
            kms=flag(Context.KMS, False),
            memory_mb=int(get(Context.MEMORY, 1024)),
            reserved_concurrency=int(concurrency) if concurrency is not None else None,
            log_retention_days=int(get(Context.LOG_RETENTION_DAYS, 30)),
            presign_ttl=int(get(Context.PRESIGN_TTL, 300)),
            url_auth=url_auth,
            domain_name=get(Context.DOMAIN_NAME),
            certificate_arn=get(Context.CERTIFICATE_ARN),
            hosted_zone_id=get(Context.HOSTED_ZONE_ID),
            hosted_zone_name=get(Context.HOSTED_ZONE_NAME),
            front_door=front_door,
        )
        if options.domain_name and not options.certificate_arn:
            raise ValueError(f"{Context.DOMAIN_NAME} needs {Context.CERTIFICATE_ARN}")
        if bool(options.hosted_zone_id) != bool(options.hosted_zone_name):
            raise ValueError(f"{Context.HOSTED_ZONE_ID} and {Context.HOSTED_ZONE_NAME} go together")
        return options
