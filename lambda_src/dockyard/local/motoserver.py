"""A moto S3 + DynamoDB server on loopback, run as a child process of `dockyard serve` (and by the tests).

It prints `READY <endpoint>` once listening, and exits when its parent closes its stdin (or dies), so that
it never outlives the registry. Keeping moto out of the registry's process keeps the registry's memory
honest: moto holds every stored byte in RAM.

DynamoDB requests are handled one at a time: moto applies a transaction by snapshotting the whole table and
restoring the snapshot when a condition fails, which would wipe the writes of concurrent requests. Real
DynamoDB has no such problem; S3 requests still run in parallel.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else concurrently."""

    def __init__(self, app):
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def make_server(host: str = "127.0.0.1", port: int = 0):
    """A threaded werkzeug server running moto; call `serve_forever()` (or use a thread)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server as werkzeug_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
    return werkzeug_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dockyard.local.motoserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    print(f"READY http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
