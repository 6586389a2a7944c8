"""Where a warm request's handler time goes: cProfile over the requests of a pull, through the real Lambda
handler (Mangum, Function URL events, auth on), over moto.

    python benchmarks/handler_profile.py [--requests 300] [--top 25] [--inline] [LABEL ...]

Prints, per request, the functions with the most time of their own (`tottime`) and the share of the
handler's time spent under a few places of interest (cumulative). cProfile sees the calling thread only:
work that a sync route or dependency does in a worker thread shows up as time waiting in `select`. With
`--inline`, FastAPI runs them in the calling thread instead (for this profile only), so that their work is
seen; their thread hops are then not.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats

from handler_time import Bench
from common import FAKE_ENV, MotoServer, environment

# Places a request's time may go, matched against "file:line(function)" of the profile's entries.
PLACES = {
    "botocore presigner": "signers.py:756(generate_presigned_url)",
    "botocore API call (serialize, sign, send, parse)": "client.py:", "_make_api_call": "(_make_api_call)",
    "Dockyard's GetItem (storage/dynamo/getitem.py)": "getitem.py:",
    "AWS round trip (socket)": "(_send)",
    "JWT verify (PyJWT)": "jwt/api_jwt.py:", "JWT sign (PyJWT)": "(encode)",
    "FastAPI dependency resolution": "(solve_dependencies)",
    "FastAPI/Starlette routing (match)": "(_match)",
    "thread hops (waiting for a worker thread)": "(select)",
    "new worker threads": "threading.py:945(start)",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--inline", action="store_true", help="run sync routes and dependencies inline")
    parser.add_argument("--replay", action="store_true",
                        help="answer each AWS call from a recording of moto's answer (no round trip)")
    parser.add_argument("labels", nargs="*")
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    from dockyard.audit import logger
    from tests.support import function_url

    logger().setLevel(logging.WARNING)
    moto = MotoServer()
    print("# Handler profile: where a warm request's time goes\n")
    print(f"{environment()}; cProfile over {args.requests} requests each, through Mangum, auth on, over moto"
          f"{'; sync routes and dependencies run inline' if args.inline else ''}"
          f"{'; AWS answers replayed from a recording' if args.replay else ''}\n")
    try:
        bench = Bench(moto.endpoint)
        bench.push_image()
        for label, (method, path, params, headers, forget) in bench.pull_requests().items():
            if args.labels and label not in args.labels:
                continue
            event, context = function_url.event(method, path, params, headers), function_url.LambdaContext()
            if args.inline:
                run_sync_inline()
            bench.replay = args.replay
            for _ in range(20):
                bench.handler(event, context)
            profile = cProfile.Profile()
            for _ in range(args.requests):
                if forget is not None:
                    forget()
                profile.enable()
                bench.handler(event, context)
                profile.disable()
            report(label, pstats.Stats(profile), args.top, args.requests)
    finally:
        moto.stop()


def run_sync_inline() -> None:
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(function, /, *args, **kwargs):
        return function(*args, **kwargs)

    fastapi.routing.run_in_threadpool = fastapi.dependencies.utils.run_in_threadpool = inline


def report(label: str, stats: pstats.Stats, top: int, requests: int) -> None:
    entries = stats.stats  # {(file, line, function): (cc, nc, tottime, cumtime, callers)}
    total = sum(tt for _, _, tt, _, _ in entries.values())
    print(f"## {label}\n")
    print(f"{total / requests * 1000:.3f} ms per request under the profiler (which slows Python code about 2x)\n")
    print("| place | share of the handler's time (cumulative) |")
    print("| --- | --- |")
    for place, needle in PLACES.items():
        cumulative = max((ct for (file, line, fn), (_, _, _, ct, _) in entries.items()
                          if needle in f"{file}:{line}({fn})"), default=0.0)
        if cumulative:
            print(f"| {place} | {cumulative / total * 100:.0f} % |")
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    print("\n```\n" + "\n".join(line.replace(os.path.dirname(os.__file__), "<stdlib>") for line in lines[start:])
          + "\n```\n")


if __name__ == "__main__":
    import sys

    from common import ROOT

    sys.path.insert(0, str(ROOT))
    main()
