"""Run real registry code in threads, one AWS call at a time, in an order a test chooses.

Each DynamoDB or S3 call is atomic, so the order of the workers' calls is all that a race can change. Every
worker stops before each of its calls until the scheduler lets it go on; the scheduler lets one worker go at a
time, the one `choose(number of ready workers)` picks. Calls made by other threads (the test itself, a part
upload's pool) are not held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Interleaving:
    def __init__(self, clients):
        self.cv = threading.Condition()
        self.order: dict[threading.Thread, int] = {}
        self.waiting: set[threading.Thread] = set()
        self.done: set[threading.Thread] = set()
        self.turn: threading.Thread | None = None
        self.steps = 0
        self._clients = list(clients)
        for client in self._clients:
            client.meta.events.register("before-call.*.*", self._gate, unique_id=f"interleave-{id(self)}")

    def close(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call.*.*", unique_id=f"interleave-{id(self)}")

    def _gate(self, **_) -> None:
        me = threading.current_thread()
        if me not in self.order:
            return
        with self.cv:
            self.waiting.add(me)
            if self.turn is me:
                self.turn = None
            self.cv.notify_all()
            self.cv.wait_for(lambda: self.turn is me)
            self.waiting.discard(me)

    def run(self, workers: list[Callable[[], object]], choose: Callable[[int], int], starts: list[int] | None = None,
            timeout: float = 120) -> list:
        """Run the workers to their ends; returns what each returned (or the exception it raised). Worker i makes
        its first call after `starts[i]` calls of the others (or as soon as it is the only one left)."""
        results: list = [None] * len(workers)
        starts = starts or [0] * len(workers)

        def body(i: int, work: Callable[[], object]) -> None:
            try:
                self._gate()
                results[i] = work()
            except BaseException as exc:  # noqa: BLE001 - the test judges it
                results[i] = exc
            finally:
                with self.cv:
                    self.done.add(threading.current_thread())
                    if self.turn is threading.current_thread():
                        self.turn = None
                    self.cv.notify_all()

        threads = [threading.Thread(target=body, args=(i, w), daemon=True) for i, w in enumerate(workers)]
        for i, thread in enumerate(threads):
            self.order[thread] = i
        for thread in threads:
            thread.start()
        with self.cv:
            while True:
                settled = self.cv.wait_for(lambda: self.turn is None and all(
                    t in self.waiting or t in self.done for t in threads), timeout)
                assert settled, "a worker neither made a call nor ended"
                waiting = sorted(self.waiting, key=self.order.__getitem__)
                if not waiting:
                    break
                ready = [t for t in waiting if starts[self.order[t]] <= self.steps] or [min(waiting, key=lambda t: starts[self.order[t]])]
                self.turn = ready[choose(len(ready)) if len(ready) > 1 else 0]
                self.steps += 1
                self.cv.notify_all()
        for thread in threads:
            thread.join(timeout)
        return results
