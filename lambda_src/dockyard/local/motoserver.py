"""A moto S3 + DynamoDB server on loopback, run as a child process of `dockyard serve`.

It prints `READY <endpoint>` once listening, and exits when its parent closes its stdin (or dies), so that
it never outlives the registry. Keeping moto out of the registry's process keeps the registry's memory
honest: moto holds every stored byte in RAM.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dockyard.local.motoserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"READY http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.stop()


if __name__ == "__main__":
    main()
