"""Context options of the stack, parsed and checked once."""

from __future__ import annotations

from dataclasses import dataclass

from infra.names import Context

# The default cap on the function's concurrent executions: it bounds what anyone on the internet can make
# the function cost, and keeps the account's other functions from being starved (see the README).
DEFAULT_CONCURRENCY = 50
# AWS regions without Lambda Function URLs (the Lambda developer guide, "Creating and managing Lambda function
# URLs", as of 2026-12): there the registry needs frontDoor=apigateway, which invokes the function itself.
NO_FUNCTION_URL_REGIONS = ("ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
                           "ap-east-2", "ca-west-1", "eu-south-2", "eu-central-2", "il-central-1", "me-central-1")


@dataclass(frozen=True)
class StackOptions:
    retain: bool = True
    kms: bool = False
    memory_mb: int = 1024
    reserved_concurrency: int | None = DEFAULT_CONCURRENCY
    log_retention_days: int = 30
    presign_ttl: int = 300
    url_auth: str = "NONE"
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    front_door: str = "cloudfront"
    audit_reads: bool = False
    access_logs: bool = False
    edge_downloads: bool = False
    gc_schedule: str = "rate(1 day)"
    gc_grace: int = 86400

    def check_region(self, region: str) -> None:
        """Refuse a stack that would need a Function URL where Lambda has none (an agnostic stack: unknown)."""
        if region in NO_FUNCTION_URL_REGIONS and not (self.domain_name and self.front_door == "apigateway"):
            raise ValueError(f"Lambda has no Function URLs in {region}: deploy with a domain and "
                             f"{Context.FRONT_DOOR}=apigateway there (API Gateway invokes the function itself)")

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
        concurrency = str(get(Context.RESERVED_CONCURRENCY, DEFAULT_CONCURRENCY)).lower()
        if concurrency != "none" and not (concurrency.isdigit() and int(concurrency) > 0):
            raise ValueError(f"{Context.RESERVED_CONCURRENCY} must be a positive number, or none (the account's "
                             f"unreserved pool), not {concurrency!r}")
        gc_schedule = str(get(Context.GC_SCHEDULE, "rate(1 day)")).strip()
        if gc_schedule != "off" and not (gc_schedule.startswith(("rate(", "cron(")) and gc_schedule.endswith(")")):
            raise ValueError(f"{Context.GC_SCHEDULE} must be rate(...), cron(...) or off, not {gc_schedule!r}")
        gc_grace = int(get(Context.GC_GRACE, 86400))
        if gc_grace < 0:
            raise ValueError(f"{Context.GC_GRACE} must be 0 or more seconds")
        options = cls(
            retain=removal == "retain",
            kms=flag(Context.KMS, False),
            memory_mb=int(get(Context.MEMORY, 1024)),
            reserved_concurrency=None if concurrency == "none" else int(concurrency),
            log_retention_days=int(get(Context.LOG_RETENTION_DAYS, 30)),
            presign_ttl=int(get(Context.PRESIGN_TTL, 300)),
            url_auth=url_auth,
            domain_name=get(Context.DOMAIN_NAME),
            certificate_arn=get(Context.CERTIFICATE_ARN),
            hosted_zone_id=get(Context.HOSTED_ZONE_ID),
            hosted_zone_name=get(Context.HOSTED_ZONE_NAME),
            front_door=front_door,
            audit_reads=flag(Context.AUDIT_READS, False),
            access_logs=flag(Context.ACCESS_LOGS, False),
            edge_downloads=flag(Context.EDGE_DOWNLOADS, False),
            gc_schedule=gc_schedule,
            gc_grace=gc_grace,
        )
        if options.domain_name and not options.certificate_arn:
            raise ValueError(f"{Context.DOMAIN_NAME} needs {Context.CERTIFICATE_ARN}")
        if options.domain_name and options.front_door == "cloudfront" and options.url_auth == "AWS_IAM":
            raise ValueError(
                f"{Context.FRONT_DOOR}=cloudfront cannot work with {Context.URL_AUTH}=AWS_IAM: CloudFront's origin "
                "access control signs each request itself, overwriting the client's Authorization header (the "
                "registry's credentials), and needs x-amz-content-sha256 on every PUT and POST, which registry "
                "clients do not send. Keep functionUrlAuth=NONE: CloudFront then proves itself with a secret "
                "origin header the function requires. Or use frontDoor=apigateway.")
        if bool(options.hosted_zone_id) != bool(options.hosted_zone_name):
            raise ValueError(f"{Context.HOSTED_ZONE_ID} and {Context.HOSTED_ZONE_NAME} go together")
        return options
