"""The `dockyard` command.

    dockyard serve [--host 127.0.0.1] [--port 5000] [--endpoint-url URL | --aws] [--bucket B] [--table T]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dockyard import resources
from dockyard.config import Settings

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
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _settings(args) -> Settings:
    base = Settings.from_env()
    overrides = {k: v for k, v in {
        "bucket": args.bucket, "table": args.table, "region": args.region, "presign_ttl": args.presign_ttl,
    }.items() if v is not None}
    return Settings(**{**base.__dict__, **overrides, "endpoint_url": args.endpoint_url})


def serve(args) -> int:
    import uvicorn

    from dockyard.local.backend import FAKE_CREDENTIALS, EmbeddedMoto, use_fake_credentials
    from dockyard.storage.aws import ensure_bucket, ensure_table, make_clients

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    embedded = None
    if not args.aws and not args.endpoint_url:
        embedded = EmbeddedMoto()
        args.endpoint_url = embedded.start()
        os.environ.update(FAKE_CREDENTIALS)
    elif args.endpoint_url:
        use_fake_credentials()
    try:
        settings = _settings(args)
        if not args.aws or args.bucket or args.table:
            s3, dynamodb = make_clients(settings)
            ensure_bucket(s3, settings)
            ensure_table(dynamodb, settings)
        os.environ.update(settings.to_env())
        where = f"embedded moto at {settings.endpoint_url}" if embedded else settings.endpoint_url or "AWS"
        print(f"Dockyard registry on http://{args.host}:{args.port}  (bucket {settings.bucket}, "
              f"table {settings.table}, backend: {where})", file=sys.stderr, flush=True)
        uvicorn.run("dockyard.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, timeout_keep_alive=30)
    finally:
        if embedded:
            embedded.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockyard", description="Dockyard: a serverless private OCI registry")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    args = parser.parse_args(argv)
    return {"serve": serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
