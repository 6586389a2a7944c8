"""A SHA-256 whose running state can be saved with an upload session and resumed by another process.

Chunked uploads arrive as separate requests, possibly on different Lambda instances, so the digest state
must outlive a request. `hashlib` cannot export its state, but OpenSSL's `SHA256_CTX` is a plain struct
(eight words of chaining value, a bit count, the pending block), so we drive the same libcrypto that
`hashlib` uses through ctypes and save the struct's bytes (112 of them) with the session.

Where that library cannot be found or fails its self-test, `ResumableSha256.available()` is False and the
registry falls back to re-hashing the assembled blob at finalize (see benchmarks/resumable_hash.py).
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
from functools import lru_cache

_CTX_SIZE = 112  # sizeof(SHA256_CTX): h[8], Nl, Nh, data[16], num, md_len as 32-bit words
_BUFFER = 256  # allocate more than the struct needs; only the first _CTX_SIZE bytes are state
_HEADER = b"dy-sha256-1" + sys.byteorder[:1].encode()


@lru_cache(maxsize=1)
def _libcrypto():
    """The libcrypto already mapped into this process by `_hashlib`, or None."""
    import _hashlib  # noqa: F401  (maps libcrypto into the process)

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "libcrypto" in line and "/" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            for name in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
                getattr(lib, name).restype = ctypes.c_int
            lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
            if _self_test(lib):
                return lib
        except (OSError, AttributeError):
            continue
    return None


def _self_test(lib) -> bool:
    probe = ResumableSha256.__new__(ResumableSha256)
    probe._lib, probe._ctx = lib, ctypes.create_string_buffer(_BUFFER)
    lib.SHA256_Init(probe._ctx)
    probe.update(b"dockyard" * 20)
    resumed = ResumableSha256.__new__(ResumableSha256)
    resumed._lib, resumed._ctx = lib, ctypes.create_string_buffer(probe.state()[len(_HEADER):], _BUFFER)
    resumed.update(b"!")
    return resumed.hexdigest() == hashlib.sha256(b"dockyard" * 20 + b"!").hexdigest()


class ResumableSha256:
    """SHA-256 with `state()` / `ResumableSha256(state)`; same results as `hashlib.sha256`."""

    def __init__(self, state: bytes | None = None):
        lib = _libcrypto()
        if lib is None:
            raise RuntimeError("resumable SHA-256 is not available on this host")
        self._lib = lib
        self._ctx = ctypes.create_string_buffer(_BUFFER)
        if state is None:
            lib.SHA256_Init(self._ctx)
        else:
            if not self.can_resume(state):
                raise ValueError("hash state was saved by an incompatible host")
            ctypes.memmove(self._ctx, state[len(_HEADER):], _CTX_SIZE)

    @staticmethod
    def available() -> bool:
        return _libcrypto() is not None

    @staticmethod
    def can_resume(state: bytes | None) -> bool:
        return bool(state) and state.startswith(_HEADER) and len(state) == len(_HEADER) + _CTX_SIZE \
            and _libcrypto() is not None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, memoryview):
            data = data.obj if data.contiguous and data.nbytes == len(data.obj) else data.tobytes()
        size = len(data)
        if size and isinstance(data, bytearray):
            data = (ctypes.c_char * size).from_buffer(data)  # no copy of large buffers
        self._lib.SHA256_Update(self._ctx, data, size)

    def state(self) -> bytes:
        return _HEADER + self._ctx.raw[:_CTX_SIZE]

    def hexdigest(self) -> str:
        """The digest of everything so far; the running state is left untouched."""
        copy = ctypes.create_string_buffer(self._ctx.raw, _BUFFER)
        out = ctypes.create_string_buffer(32)
        self._lib.SHA256_Final(out, copy)
        return out.raw.hex()
