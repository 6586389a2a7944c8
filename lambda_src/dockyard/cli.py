"""The `dockyard` command.

    dockyard serve [--host 127.0.0.1] [--port 5000] [--endpoint-url URL | --aws] [--bucket B] [--table T] [--auth]
                   [--lambda-limits] [--public-url URL] [--trust-forwarded] (see README)
    dockyard keys create NAME --allow 'team/*=pull,push' [--expires 90d] [--json]
    dockyard keys list [--json]
    dockyard keys revoke KEY_ID
    dockyard anonymous show | set PATTERN...
    dockyard upstream add NAME URL [--username U --password-stdin] [--docker-hub-mirror]
    dockyard upstream list | remove NAME
    dockyard immutability set GLOB [--mutable-tags PATTERN]... | list | delete GLOB
    dockyard gc [--dry-run] [--json] [--grace DURATION]                (see dockyard.client.maintenance)
    dockyard retention set GLOB [--keep-last N] [--expire-after D] ... | list | delete GLOB | preview
    dockyard manifests REPOSITORY
    dockyard quota set GLOB --bytes SIZE | list | delete GLOB
    dockyard usage [--json] [--since 30d] [GLOB]
    dockyard signing-key rotate --secret-id ID [--region R]      (operator's AWS credentials)
    dockyard push SOURCE HOST[:PORT]/REPO[:TAG] [--creds ID:SECRET] [--json]  (SOURCE: oci:PATH[:TAG], docker-archive:PATH)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from dockyard import resources
from dockyard.client import governance, maintenance
from dockyard.config import Settings
from dockyard.resources import Env

log = logging.getLogger("dockyard")


def _serve_parser(sub) -> None:
    serve = sub.add_parser("serve", help="run the registry with uvicorn",
                           description="Run the registry. By default it starts an embedded moto S3 and "
                                       "DynamoDB on loopback: no AWS account is needed.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    backend = serve.add_mutually_exclusive_group()
    backend.add_argument("--endpoint-url", help="an external S3- and DynamoDB-compatible endpoint (moto_server)")
    backend.add_argument("--aws", action="store_true", help="use real AWS through the standard credential chain")
    serve.add_argument("--bucket", help=f"S3 bucket (default {resources.DEFAULT_BUCKET}); created if missing")
    serve.add_argument("--table", help=f"DynamoDB table (default {resources.DEFAULT_TABLE}); created if missing")
    serve.add_argument("--region", default=None, help=f"AWS region (default {resources.DEFAULT_REGION})")
    serve.add_argument("--presign-ttl", type=int, default=None, help="lifetime of blob download URLs, seconds")
    serve.add_argument("--auth", action="store_true",
                       help=f"require access keys and tokens (admin key from {Env.ADMIN_KEY_ID} and "
                            f"{Env.ADMIN_SECRET}, else a new one is printed)")
    serve.add_argument("--signing-secret", default=None,
                       help=f"Secrets Manager id of the token signing keys (default "
                            f"{resources.DEFAULT_SIGNING_SECRET}); created if missing")
    serve.add_argument("--public-url", default=None,
                       help="the URL clients reach this registry at, for the token realm (default: the address it "
                            "listens on)")
    serve.add_argument("--trust-forwarded", action="store_true",
                       help="take that URL from X-Forwarded-Proto and X-Forwarded-Host: only behind a proxy that "
                            "sets them")
    serve.add_argument("--lambda-limits", action="store_true",
                       help="refuse request bodies that would not fit a Lambda Function URL (413), as deployed")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--gc-every", default=None, metavar="DURATION",
                       help="run garbage collection (retention rules included) on this schedule, e.g. 24h "
                            "(default: only when asked, `dockyard gc`)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _admin_parsers(sub) -> None:
    def client_options(parser):
        parser.add_argument("--registry", default=os.environ.get(Env.REGISTRY),
                            help=f"registry URL (or {Env.REGISTRY})")
        parser.add_argument("--creds", default=None,
                            help=f"admin KEY_ID:SECRET (or {Env.ADMIN_KEY_ID} and {Env.ADMIN_SECRET})")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    keys = sub.add_parser("keys", help="manage access keys (admin)").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key; prints its id and secret (shown once)")
    create.add_argument("name")
    create.add_argument("--allow", action="append", required=True, metavar="PATTERN=ACTIONS",
                        help="e.g. 'team/*=pull,push' (actions: pull, push, delete, admin); repeatable")
    create.add_argument("--expires", default=None, help="lifetime such as 90d, 12h, 30m")
    client_options(create)
    client_options(keys.add_parser("list", help="list keys"))
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    client_options(revoke)

    anonymous = sub.add_parser("anonymous", help="repositories anyone may pull (admin)").add_subparsers(
        dest="action", required=True)
    client_options(anonymous.add_parser("show"))
    set_ = anonymous.add_parser("set", help="replace the list; no pattern makes every repository private")
    set_.add_argument("patterns", nargs="*")
    client_options(set_)

    upstream = sub.add_parser("upstream", help="upstream registries of the pull-through cache (admin)") \
        .add_subparsers(dest="action", required=True)
    add = upstream.add_parser("add", help="add (or replace) an upstream: pull NAME/<repo> through it")
    add.add_argument("name", help="the prefix its repositories are pulled under, e.g. hub")
    add.add_argument("url", help="e.g. docker.io, https://ghcr.io, http://127.0.0.1:5001")
    add.add_argument("--username", default=None)
    add.add_argument("--password-stdin", action="store_true", help="read the password (or token) from stdin")
    add.add_argument("--docker-hub-mirror", action="store_true",
                     help="also serve unprefixed names no local repository holds (docker's registry-mirrors)")
    client_options(add)
    client_options(upstream.add_parser("list", help="list upstreams (passwords are never shown)"))
    remove = upstream.add_parser("remove", help="remove an upstream (what it cached stays)")
    remove.add_argument("name")
    client_options(remove)

    governance.add_parsers(sub, client_options)
    maintenance.add_parsers(sub, client_options)

    push = sub.add_parser("push", help="push an image with its layers sent straight to S3 (any size)")
    push.add_argument("source", help="oci:PATH[:TAG] (an OCI image layout) or docker-archive:PATH (docker save)")
    push.add_argument("destination", help="HOST[:PORT]/REPOSITORY[:TAG]")
    push.add_argument("--creds", default=None, help=f"KEY_ID:SECRET (or {Env.KEY_ID} and {Env.SECRET}, or "
                                                    "docker's credentials file)")
    push.add_argument("--insecure", action="store_true", help="plain HTTP (default only for loopback hosts)")
    push.add_argument("--parallel", type=int, default=4, help="blobs sent at once")
    push.add_argument("--part-parallel", type=int, default=4, help="parts of one blob sent at once")
    push.add_argument("--multipart-above", default=None, help="send blobs larger than this in parts (e.g. 1g)")
    push.add_argument("--part-size", default=None, help="part size (e.g. 64m; at least 5m)")
    push.add_argument("--json", action="store_true",
                      help="print a JSON summary (digest, blobs pushed and skipped) on stdout; else the digest")

    gateway = sub.add_parser("gateway", help="a local endpoint that lands standard pushes of any size in a "
                                              "deployed registry, layers straight to S3")
    gateway.add_argument("--registry", default=os.environ.get(Env.REGISTRY), help=f"registry URL (or {Env.REGISTRY})")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=5000)
    gateway.add_argument("--spool-dir", default=None, help="where uploads wait for their digest (default: temp)")
    gateway.add_argument("--multipart-above", default=None, help="send blobs larger than this in parts (e.g. 1g)")
    gateway.add_argument("--part-size", default=None, help="part size (e.g. 64m)")
    gateway.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    signing = sub.add_parser("signing-key", help="rotate the token signing key (with your AWS credentials)")
    rotate = signing.add_subparsers(dest="action", required=True).add_parser("rotate")
    rotate.add_argument("--secret-id", required=True, help="the stack's SigningSecretArn output")
    rotate.add_argument("--region", default=None)
    rotate.add_argument("--endpoint-url", default=None, help=argparse.SUPPRESS)


def _settings(args) -> Settings:
    base = Settings.from_env()
    overrides = {k: v for k, v in {
        "bucket": args.bucket, "table": args.table, "region": args.region, "presign_ttl": args.presign_ttl,
        "public_url": args.public_url, "trust_forwarded": args.trust_forwarded or None,
    }.items() if v is not None}
    if args.lambda_limits:
        overrides["max_body"] = resources.LAMBDA_MAX_BODY
    if args.auth:
        overrides["auth"] = True
        overrides["signing_secret"] = args.signing_secret or base.signing_secret or resources.DEFAULT_SIGNING_SECRET
    return Settings(**{**base.__dict__, **overrides, "endpoint_url": args.endpoint_url})


def bound_malloc() -> None:
    """Keep a long-running server's resident memory flat while layers stream through it. glibc gives each
    worker thread an arena and keeps freed part buffers in it, so RSS ratchets up run after run (92 -> 118
    MiB over eight pushes here); with two arenas and buffers of 1 MiB or more mapped and unmapped on their
    own, it stays at 78-89 MiB. Same effect as MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc
    m_mmap_threshold, m_arena_max = -3, -8
    libc.mallopt(m_arena_max, 2)
    libc.mallopt(m_mmap_threshold, 1024 * 1024)


def _admin_key_from_env() -> tuple[str | None, str | None]:
    """The admin key `serve --auth` creates at start, from the environment; refused at once, with the
    reason, if it could never authenticate (the bootstrap id, an id Basic credentials cannot carry) or
    its secret is too short."""
    from dockyard.auth.keys import check_chosen

    key_id, secret = os.environ.get(Env.ADMIN_KEY_ID) or None, os.environ.get(Env.ADMIN_SECRET) or None
    if secret and not key_id:
        raise SystemExit(f"dockyard: {Env.ADMIN_SECRET} is set but {Env.ADMIN_KEY_ID} is not: set both, or "
                         "neither to have a new admin key generated")
    for name, chosen in ((Env.ADMIN_KEY_ID, (key_id, None)), (Env.ADMIN_SECRET, (None, secret))):
        try:
            check_chosen(*chosen)
        except ValueError as exc:
            raise SystemExit(f"dockyard: {name}: {exc}") from None
    return key_id, secret


def serve(args) -> int:
    admin_key = _admin_key_from_env() if args.auth else (None, None)
    bound_malloc()
    import uvicorn

    from dockyard.local.backend import EmbeddedMoto, use_fake_credentials
    from dockyard.local.http import PROTOCOL
    from dockyard.storage.aws import ensure_bucket, ensure_table, make_clients

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore.credentials").setLevel(logging.WARNING)  # "Found credentials in ..." at start
    embedded = None
    if not args.aws and not args.endpoint_url:
        embedded = EmbeddedMoto(secure=True)  # moto takes only the key it generated (see README: threat model)
        args.endpoint_url = embedded.start()
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):  # the generated key alone, never a session's
            os.environ.pop(name, None)
        os.environ.update(embedded.credentials)
    elif args.endpoint_url:
        use_fake_credentials()
    try:
        settings = _settings(args)
        if not args.aws or args.bucket or args.table:
            s3, dynamodb = make_clients(settings)
            ensure_bucket(s3, settings)
            ensure_table(dynamodb, settings)
        if settings.auth:
            _prepare_auth(settings, *admin_key)
        else:
            print("WARNING: access control is off: anyone who can reach this port can push, pull and delete. "
                  "Use --auth for anything but local development.", file=sys.stderr, flush=True)
        if settings.auth and args.host in ("0.0.0.0", "::") and not (settings.public_url or settings.trust_forwarded):
            print(f"WARNING: tokens are offered at http://{args.host}:{args.port}/token; give --public-url (the URL "
                  "clients reach this registry at) so that remote clients can log in.", file=sys.stderr, flush=True)
        os.environ.update(settings.to_env())
        where = f"embedded moto at {settings.endpoint_url}" if embedded else settings.endpoint_url or "AWS"
        print(f"Dockyard registry on http://{args.host}:{args.port}  (bucket {settings.bucket}, "
              f"table {settings.table}, backend: {where})", file=sys.stderr, flush=True)
        if args.gc_every:
            from dockyard.maintenance.schedule import every

            every(maintenance.duration(args.gc_every), settings)
        uvicorn.run("dockyard.app:create_app", factory=True, host=args.host, port=args.port, http=PROTOCOL,
                    workers=args.workers, log_level=args.log_level, timeout_keep_alive=30)
    finally:
        if embedded:
            embedded.stop()
    return 0


def _prepare_auth(settings: Settings, key_id: str | None, chosen_secret: str | None) -> None:
    """Make sure the signing keys exist, and that there is an admin key to start with."""
    from dockyard.auth.secrets_store import ensure_keyring
    from dockyard.factory import build_registry
    from dockyard.storage.aws import secrets_client

    ensure_keyring(secrets_client(settings), settings.signing_secret)
    access = build_registry(settings).access
    key, secret = access.create_key("admin", ["*=admin"], key_id=key_id, secret=chosen_secret)
    if chosen_secret:
        print(f"Access control is on; admin key {key['id']} (from {Env.ADMIN_KEY_ID}).", file=sys.stderr)
    else:
        print(f"Access control is on. A new admin key (shown once):\n  {Env.ADMIN_KEY_ID}={key['id']}\n"
              f"  {Env.ADMIN_SECRET}={secret}", file=sys.stderr, flush=True)


# --- admin commands: a thin client of the admin API ------------------------------------------------------

def _client(args):
    import httpx

    registry = args.registry
    if not registry:
        raise SystemExit(f"dockyard: no registry: use --registry URL or set {Env.REGISTRY}")
    if "://" not in registry:
        host = registry.split("/")[0].rsplit(":", 1)[0]
        registry = ("http://" if host in ("localhost", "127.0.0.1", "::1", "[::1]") else "https://") + registry
    creds = args.creds or (f"{os.environ[Env.ADMIN_KEY_ID]}:{os.environ[Env.ADMIN_SECRET]}"
                           if os.environ.get(Env.ADMIN_KEY_ID) and os.environ.get(Env.ADMIN_SECRET) else None)
    auth = tuple(creds.split(":", 1)) if creds else None
    return httpx.Client(base_url=registry.rstrip("/") + "/dockyard/v1", auth=auth, timeout=30)


def _call(args, method: str, path: str, body: dict | None = None) -> dict:
    with _client(args) as client:
        return _answer(client.request(method, path, json=body))


def _answer(response) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        error = (data.get("errors") or [{}])[0]
        raise SystemExit(f"dockyard: {response.status_code} {error.get('code', '')}: "
                         f"{error.get('detail') or error.get('message') or response.text[:200]}")
    return data


def _pages(args, path: str, field: str) -> list:
    """Every entry of a paginated listing, following its `Link` headers."""
    from urllib.parse import parse_qs, urlsplit

    found, params = [], {}
    with _client(args) as client:
        while True:
            response = client.get(path, params=params)
            found += _answer(response)[field]
            if "next" not in response.links:
                return found
            params = {k: v[0] for k, v in parse_qs(urlsplit(response.links["next"]["url"]).query).items()}


def keys(args) -> int:
    if args.action == "create":
        body = {"name": args.name, "allow": args.allow}
        if args.expires:
            body["expires_in"] = maintenance.duration(args.expires)
        data = _call(args, "POST", "/keys", body)
        if args.json:
            print(json.dumps({"id": data["id"], "secret": data["secret"]}))
        else:
            print(f"id:     {data['id']}\nsecret: {data['secret']}\n(the secret is shown only this once)")
    elif args.action == "list":
        found = _pages(args, "/keys", "keys")
        if args.json:
            print(json.dumps(found, indent=2))
        for key in [] if args.json else found:
            print(f"{key['id']}  {key['state']:8}  {key['name']}  {' '.join(key['allow'])}")
    else:
        key = _call(args, "DELETE", f"/keys/{args.key_id}")["key"]
        print(json.dumps(key) if args.json else f"revoked {key['id']} ({key['name']})")
    return 0


def anonymous(args) -> int:
    if args.action == "set":
        patterns = _call(args, "PUT", "/anonymous", {"pull": args.patterns})["pull"]
    else:
        patterns = _call(args, "GET", "/anonymous")["pull"]
    print(json.dumps({"pull": patterns}) if args.json else "\n".join(patterns) or "(no public repositories)")
    return 0


def upstream(args) -> int:
    if args.action == "add":
        if bool(args.username) != bool(args.password_stdin):
            raise SystemExit("dockyard: --username and --password-stdin go together")
        body = {"name": args.name, "url": args.url, "docker_hub_mirror": args.docker_hub_mirror}
        if args.password_stdin:
            password = sys.stdin.read().rstrip("\r\n")
            if not password:
                raise SystemExit("dockyard: no password on stdin")
            body.update(username=args.username, password=password)
        found = [_call(args, "POST", "/upstreams", body)["upstream"]]
    elif args.action == "list":
        found = _call(args, "GET", "/upstreams")["upstreams"]
    else:
        found = [_call(args, "DELETE", f"/upstreams/{args.name}")["upstream"]]
    if args.json:
        print(json.dumps(found if args.action == "list" else found[0], indent=2))
        return 0
    for item in found:
        extra = " (docker hub mirror)" if item["docker_hub_mirror"] else ""
        who = f"  as {item['username']}" if item["username"] else ""
        print(f"{'removed ' if args.action == 'remove' else ''}{item['name']}  {item['url']}{who}{extra}")
    if args.action == "list" and not found:
        print("(no upstreams)")
    return 0


def signing_key(args) -> int:
    from dockyard.auth.secrets_store import rotate_keyring
    from dockyard.storage.aws import secrets_client

    base = Settings.from_env()
    settings = Settings(region=args.region or base.region, endpoint_url=args.endpoint_url)
    kid = rotate_keyring(secrets_client(settings), args.secret_id)
    print(f"new current signing key: {kid} (the previous key still verifies tokens already issued)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockyard", description="Dockyard: a serverless private OCI registry")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _admin_parsers(sub)
    args = parser.parse_args(argv)
    from dockyard.client.commands import gateway, push

    commands = {"serve": serve, "keys": keys, "anonymous": anonymous, "signing-key": signing_key, "push": push,
                "upstream": upstream, "gateway": gateway}
    for module in (governance, maintenance):
        if args.command in module.COMMANDS:
            return module.COMMANDS[args.command](args, _call)
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
