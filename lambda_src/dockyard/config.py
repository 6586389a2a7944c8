"""Registry settings, parsed once from the environment (or given explicitly by `dockyard serve` and tests)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.resources import DEFAULT_BUCKET, DEFAULT_REGION, DEFAULT_SERVICE, DEFAULT_TABLE, Env
from dockyard.storage.s3_limits import MIB, MIN_PART_SIZE


@dataclass(frozen=True)
class Settings:
    """Everything the registry needs to know about where it stores data and how it behaves."""

    bucket: str = DEFAULT_BUCKET
    table: str = DEFAULT_TABLE
    region: str = DEFAULT_REGION
    # An S3- and DynamoDB-compatible endpoint (moto); None means real AWS.
    endpoint_url: str | None = None
    # Lifetime of presigned blob GET URLs, in seconds.
    presign_ttl: int = 300
    # Seconds a warm instance trusts a blob link or a manifest by digest it has seen without reading it again
    # (0: never).
    link_cache_ttl: int = 60
    # Lifetime of presigned upload URLs (direct uploads): long enough for a big part to start.
    upload_url_ttl: int = 3600
    # Part URLs in one answer of the direct upload API: 1,000 of about 1.5 KB each (with a Lambda role's
    # session token) fit a Lambda response; a client asks for the others as its parts go.
    part_urls: int = 1000
    # An upload session that sees no activity for this many seconds is gone.
    upload_ttl: int = 24 * 3600
    # A request writing to an upload session holds its lease this long, renewed every third of it while
    # the request runs (`dockyard.registry.lease`): a writer that died frees the session within this.
    upload_lease: int = 30
    # Bytes buffered before a multipart part is sent to S3 while streaming an upload.
    part_size: int = 6 * MIB
    # The largest request body this host accepts (Lambda's payload cap), advertised to chunking clients;
    # None: no limit.
    max_body: int | None = None
    # DELETE of manifests, tags and blobs; off: those endpoints answer 405 UNSUPPORTED.
    delete_enabled: bool = True
    # Access control: off only for local development (`dockyard serve` without --auth).
    auth: bool = False
    # Secrets Manager ids: the token signing keyring, and (deployed stacks) the bootstrap admin key.
    signing_secret: str | None = None
    bootstrap_secret: str | None = None
    service: str = DEFAULT_SERVICE
    token_ttl: int = 300
    refresh_ttl: int = 30 * 24 * 3600
    # The registry's public URL (a custom domain), for the token realm; None: the Function URL's own domain
    # on Lambda, else the address the server listens on (see `dockyard.api.public`).
    public_url: str | None = None
    # Take the realm from `X-Forwarded-Proto`/`X-Forwarded-Host` (or `Host`): only behind a proxy that sets
    # them, since any client can send them.
    trust_forwarded: bool = False
    # Pull-through cache: seconds a cached tag is served before the upstream is asked (HEAD) again.
    upstream_ttl: int = 300
    # Where upstream credentials are kept in Secrets Manager (names start with it); None: per table.
    upstream_secret_prefix: str | None = None
    # Seconds one request may spend fetching a blob from an upstream into S3 (below the host's timeout).
    fetch_deadline: int = 240
    # The largest blob fetched within one request (None: no limit); a larger one is redirected upstream.
    fetch_max_bytes: int | None = None
    # Secrets Manager id of the origin header's value (behind CloudFront); None: no origin check.
    origin_secret: str | None = None
    # The largest blob a direct upload may send in parts: its completion re-hashes the object within one
    # request, so this is what the host's request timeout allows (see the README's *Timeouts*); None: any.
    verify_max: int | None = None
    # One audit line per manifest GET (a pull), besides writes and denials.
    audit_reads: bool = False
    # Seconds to wait for an answer from S3, DynamoDB or Secrets Manager before one retry, then 503; None:
    # `default_read_timeout` (3 s against AWS, 10 s against a custom endpoint such as moto).
    backend_timeout: float | None = None
    # Seconds a request body may stall (no byte arriving) before the request fails with 408.
    body_timeout: float = 60.0
    # Edge downloads: blob GETs answer with CloudFront signed URLs of `edge_url` (the distribution in front
    # of the blob prefix), signed by public key `edge_key_id`, whose private key is Secrets Manager secret
    # `edge_key_secret`. None: presigned S3 URLs.
    edge_url: str | None = None
    edge_key_id: str | None = None
    edge_key_secret: str | None = None
    # Garbage collection leaves what became garbage less than this long ago (seconds): a push between its
    # layers and its manifest, a presigned URL handed out, a warm instance's cached link stay good.
    gc_grace: int = 24 * 3600
    # The function that carries GC runs on (a deployed stack; the only one that may delete blob bytes);
    # None: runs go on in a thread of this process.
    gc_function: str | None = None
    # Usage metering: seconds an instance holds pull counts before it adds them to the table (0: every
    # manifest GET writes them).
    meter_interval: int = 60
    # Seconds an instance trusts the storage quotas it read.
    quota_cache_ttl: int = 5

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if self.public_url and not re.match(r"https?://[A-Za-z0-9.:\[\]-]+/?\Z", self.public_url):
            raise ValueError(f"public_url must be http(s)://host[:port], not {self.public_url!r}")
        if not 1 <= self.part_urls <= 1000:
            raise ValueError("part_urls must be between 1 and 1000")
        if not 1 <= self.presign_ttl <= 7 * 24 * 3600:
            raise ValueError("presign_ttl must be between 1 second and 7 days")
        if not 0 < self.read_timeout <= 600 or not 0 < self.body_timeout <= 3600:
            raise ValueError("backend_timeout must be in (0, 600] seconds and body_timeout in (0, 3600]")
        if self.auth and not self.signing_secret:
            raise ValueError("auth needs a signing secret (Secrets Manager id)")
        edge = (self.edge_url, self.edge_key_id, self.edge_key_secret)
        if any(edge) and not all(edge):
            raise ValueError("edge downloads need a URL, a key id and the key's secret, all three")

    @property
    def secret_prefix(self) -> str:
        """The Secrets Manager name prefix of upstream credentials."""
        return self.upstream_secret_prefix or f"dockyard/{self.table}/upstreams/"

    @property
    def read_timeout(self) -> float:
        """How long an AWS call waits for its answer (see `dockyard.storage.aws`)."""
        return self.backend_timeout or default_read_timeout(self.endpoint_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from environment variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for field, var, cast in (
            ("bucket", Env.BUCKET, str),
            ("table", Env.TABLE, str),
            ("region", Env.REGION, str),
            ("endpoint_url", Env.ENDPOINT_URL, str),
            ("presign_ttl", Env.PRESIGN_TTL, int),
            ("upload_url_ttl", Env.UPLOAD_URL_TTL, int),
            ("part_urls", Env.PART_URLS, int),
            ("link_cache_ttl", Env.LINK_CACHE_TTL, int),
            ("upload_ttl", Env.UPLOAD_TTL, int),
            ("upload_lease", Env.UPLOAD_LEASE, int),
            ("part_size", Env.PART_SIZE, int),
            ("max_body", Env.MAX_BODY, int),
            ("auth", Env.AUTH, _flag),
            ("delete_enabled", Env.DELETE, _flag),
            ("signing_secret", Env.SIGNING_SECRET, str),
            ("bootstrap_secret", Env.BOOTSTRAP_SECRET, str),
            ("service", Env.SERVICE, str),
            ("token_ttl", Env.TOKEN_TTL, int),
            ("public_url", Env.PUBLIC_URL, str),
            ("trust_forwarded", Env.TRUST_FORWARDED, _flag),
            ("upstream_ttl", Env.UPSTREAM_TTL, int),
            ("upstream_secret_prefix", Env.UPSTREAM_SECRET_PREFIX, str),
            ("fetch_deadline", Env.FETCH_DEADLINE, int),
            ("fetch_max_bytes", Env.FETCH_MAX_BYTES, int),
            ("origin_secret", Env.ORIGIN_SECRET, str),
            ("verify_max", Env.VERIFY_MAX, int),
            ("audit_reads", Env.AUDIT_READS, _flag),
            ("backend_timeout", Env.BACKEND_TIMEOUT, float),
            ("body_timeout", Env.BODY_TIMEOUT, float),
            ("edge_url", Env.EDGE_URL, str),
            ("edge_key_id", Env.EDGE_KEY_ID, str),
            ("edge_key_secret", Env.EDGE_KEY_SECRET, str),
            ("gc_grace", Env.GC_GRACE, int),
            ("gc_function", Env.GC_FUNCTION, str),
            ("meter_interval", Env.METER_INTERVAL, int),
            ("quota_cache_ttl", Env.QUOTA_CACHE_TTL, int),
        ):
            if env.get(var):
                values[field] = cast(env[var])
        if "region" not in values and env.get("AWS_REGION"):
            values["region"] = env["AWS_REGION"]
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings (for child processes)."""
        env = {
            Env.BUCKET: self.bucket,
            Env.TABLE: self.table,
            Env.REGION: self.region,
            Env.PRESIGN_TTL: str(self.presign_ttl),
            Env.UPLOAD_TTL: str(self.upload_ttl),
            Env.PART_SIZE: str(self.part_size),
        }
        if self.endpoint_url:
            env[Env.ENDPOINT_URL] = self.endpoint_url
        if self.max_body:
            env[Env.MAX_BODY] = str(self.max_body)
        env[Env.AUTH] = "on" if self.auth else "off"
        env[Env.TRUST_FORWARDED] = "on" if self.trust_forwarded else "off"
        env[Env.DELETE] = "on" if self.delete_enabled else "off"
        env[Env.AUDIT_READS] = "on" if self.audit_reads else "off"
        for var, value in ((Env.SIGNING_SECRET, self.signing_secret), (Env.BOOTSTRAP_SECRET, self.bootstrap_secret),
                           (Env.PUBLIC_URL, self.public_url), (Env.EDGE_URL, self.edge_url),
                           (Env.EDGE_KEY_ID, self.edge_key_id), (Env.EDGE_KEY_SECRET, self.edge_key_secret)):
            if value:
                env[var] = value
        env[Env.SERVICE], env[Env.TOKEN_TTL] = self.service, str(self.token_ttl)
        env[Env.UPSTREAM_TTL], env[Env.FETCH_DEADLINE] = str(self.upstream_ttl), str(self.fetch_deadline)
        if self.upstream_secret_prefix:
            env[Env.UPSTREAM_SECRET_PREFIX] = self.upstream_secret_prefix
        if self.fetch_max_bytes:
            env[Env.FETCH_MAX_BYTES] = str(self.fetch_max_bytes)
        env[Env.BODY_TIMEOUT] = str(self.body_timeout)
        if self.backend_timeout:
            env[Env.BACKEND_TIMEOUT] = str(self.backend_timeout)
        env[Env.GC_GRACE] = str(self.gc_grace)
        if self.gc_function:
            env[Env.GC_FUNCTION] = self.gc_function
        env[Env.METER_INTERVAL], env[Env.QUOTA_CACHE_TTL] = str(self.meter_interval), str(self.quota_cache_ttl)
        return env


def default_read_timeout(endpoint_url: str | None) -> float:
    """3 s against AWS, where DynamoDB answers in milliseconds; 10 s against a custom endpoint: moto answers
    DynamoDB one request at a time, and on a loaded machine one answer was seen to take over 3 s."""
    return 10.0 if endpoint_url else 3.0


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
