"""A loopback TCP proxy that times a server's answers: how long the server behind it took, summed over every
request of a client run, with the client's other work (hashing, writing, its S3 downloads) left out.

HTTP/1.1 on one connection is request, answer, request, answer: a request starts with the first client byte
after the server has answered (or on a new connection), and ends with the server's last byte before the
client speaks again or closes. The server is connected only when a connection's first bytes arrive, so
its accept and TCP setup count in the first request, as a client pays them. The proxy's own forwarding
adds the same small time to every server behind it.

    with TimingProxy("127.0.0.1:5000") as proxy:   # clients talk to proxy.host
        ...
        proxy.take()  # -> (requests, seconds) since the last take
"""

from __future__ import annotations

import asyncio
import threading
import time

from tests.support.processes import free_port


class TimingProxy:
    def __init__(self, target: str):
        self.target_host, target_port = target.rsplit(":", 1)
        self.target_port = int(target_port)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._requests, self._seconds = 0, 0.0
        self.log: list[tuple[str, float]] = []  # each request's first line, and the server's time for it
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timing-proxy", daemon=True)

    def __enter__(self) -> TimingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the timing proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def take(self) -> tuple[int, float]:
        """The requests answered, and the seconds the server took for them, since the last take."""
        with self._lock:
            taken = self._requests, self._seconds
            self._requests, self._seconds = 0, 0.0
        return taken

    def _add(self, line: bytes, seconds: float) -> None:
        with self._lock:
            self._requests += 1
            self._seconds += seconds
            self.log.append((line.split(b"\r\n", 1)[0].decode("latin-1"), seconds))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        first = await client_in.read(65536)
        if not first:
            client_out.close()
            return
        state = {"start": time.perf_counter(), "answered": None, "line": first}  # a request's start, last answer
        try:
            server_in, server_out = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_out.close()
            return
        server_out.write(first)

        async def requests() -> None:  # client to server
            while data := await client_in.read(65536):
                if state["answered"] is not None:  # the client speaks again: the last request is over
                    self._add(state["line"], state["answered"] - state["start"])
                    state["start"], state["answered"], state["line"] = time.perf_counter(), None, data
                server_out.write(data)
                await server_out.drain()
            server_out.close()

        async def answers() -> None:  # server to client
            while data := await server_in.read(65536):
                state["answered"] = time.perf_counter()  # when the server sent it, not when the client took it
                client_out.write(data)
                await client_out.drain()
            client_out.close()

        await asyncio.gather(requests(), answers(), return_exceptions=True)
        if state["answered"] is not None:
            self._add(state["line"], state["answered"] - state["start"])
