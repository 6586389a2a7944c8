"""`dockyard push` and `dockyard gateway`: the client commands (parsed in `dockyard.cli`)."""

from __future__ import annotations

import json
import sys

from dockyard.resources import Env


def parse_size(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    try:
        return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)
    except (ValueError, IndexError):
        raise SystemExit(f"dockyard: invalid size {text!r} (use e.g. 64m, 1g)") from None


def push(args) -> int:
    """Progress goes to stderr; stdout gets the pushed digest (or, with --json, a summary), for scripts."""
    from dockyard.client.credentials import resolve
    from dockyard.client.http import RegistryClient, RegistryError, base_url
    from dockyard.client.progress import Progress
    from dockyard.client.push import Destination, push as push_image
    from dockyard.client.source import SourceError, load

    try:
        destination = Destination.parse(args.destination)
        image = load(args.source)
    except (ValueError, SourceError) as exc:
        raise SystemExit(f"dockyard: {exc}") from None
    credentials = resolve(destination.host, args.creds)
    client = RegistryClient(base_url(destination.host, args.insecure), credentials)
    progress = Progress(sum(b.size for b in image.blobs.values()))
    try:
        summary = push_image(image, destination, client, progress, parallel=args.parallel,
                             part_parallel=args.part_parallel, multipart_above=parse_size(args.multipart_above),
                             part_size=parse_size(args.part_size))
    except RegistryError as exc:
        progress.close()
        raise SystemExit(_push_failure(exc, destination, credentials)) from None
    finally:
        client.close()
    print(json.dumps(summary) if args.json else summary["digest"], flush=True)
    return 0


def _push_failure(exc, destination, credentials) -> str:
    """What went wrong, and for a refusal, which credentials were tried and how to give others."""
    from dockyard.client.credentials import how_to_give, searched

    message = f"dockyard: push failed: {exc}"
    if exc.status == 401:
        tried = f"the registry refused {credentials.describe()}" if credentials else searched(destination.host)
        message += f"\n  {tried}\n  {how_to_give(destination.host)}"
    elif exc.status == 403:
        message += (f"\n  {credentials.describe() if credentials else 'anonymous'} may not push to "
                    f"{destination.repository}: it needs a key with push on it (dockyard keys create ... "
                    f"--allow '{destination.repository}=push')")
    return message


def gateway(args) -> int:
    import uvicorn

    from dockyard.client.gateway import create_gateway
    from dockyard.local.http import PROTOCOL

    if not args.registry:
        raise SystemExit(f"dockyard: no registry: use --registry URL or set {Env.REGISTRY}")
    registry = args.registry if "://" in args.registry else f"https://{args.registry}"
    app = create_gateway(registry, spool_dir=args.spool_dir, part_size=parse_size(args.part_size),
                         multipart_above=parse_size(args.multipart_above))
    print(f"Dockyard gateway on http://{args.host}:{args.port} -> {registry}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, http=PROTOCOL, log_level=args.log_level,
                timeout_keep_alive=30)
    return 0
