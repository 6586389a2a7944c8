"""Progress of a push: a bar per blob and a total on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    def __init__(self, total: int, stream=None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total, self.done = total, 0
        self.blobs: dict[str, list[int]] = {}  # digest -> [sent, size]
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self._drawn = 0
        self._last_draw = 0.0
        self.closed = False

    def log(self, message: str) -> None:
        with self.lock:
            self._clear()
            print(message, file=self.stream, flush=True)
            self._draw(force=True)

    def start(self, digest: str, size: int) -> None:
        with self.lock:
            self.blobs[digest] = [0, size]

    def advance(self, digest: str, n: int) -> None:
        with self.lock:
            self.blobs[digest][0] += n
            self.done += n
            self._draw()

    def finish(self, digest: str, outcome: str, size: int) -> None:
        """A blob is done: pushed, or skipped (already there, mounted). Either way all of it counts as
        done, so the total reaches 100%."""
        with self.lock:
            sent = self.blobs.pop(digest, [0, size])[0]
            self.done += size - sent
            self._clear()
            print(f"{digest[:19]}  {_size(size):>10}  {outcome}", file=self.stream, flush=True)
            self._draw(force=True)

    def close(self, message: str | None = None) -> None:
        """Take the bars off the terminal for good, then print the last line (nothing is drawn after it)."""
        with self.lock:
            self._clear()
            self.closed = True
            if message:
                print(message, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\x1b[1A\x1b[2K" * self._drawn)
            self._drawn = 0

    def _draw(self, force: bool = False) -> None:
        if not self.tty or self.closed or (not force and time.monotonic() - self._last_draw < 0.1):
            return
        self._clear()
        lines = [self._bar(d[:19], sent, size) for d, (sent, size) in list(self.blobs.items())[:8]]
        elapsed = max(time.monotonic() - self.started, 1e-6)
        lines.append(self._bar("total", self.done, self.total) + f"  {_size(self.done / elapsed)}/s")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn, self._last_draw = len(lines), time.monotonic()

    @staticmethod
    def _bar(label: str, sent: int, size: int, width: int = 30) -> str:
        ratio = sent / size if size else 1.0
        filled = int(ratio * width)
        return f"{label:19}  [{'#' * filled}{'.' * (width - filled)}] {ratio * 100:5.1f}%  {_size(sent)}/{_size(size)}"
