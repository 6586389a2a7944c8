"""Content digests (`algorithm:encoded`), validated against the OCI image-spec grammar."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockyard.errors import Err, RegistryError

# algorithm -> length of the lowercase hex encoding
ALGORITHMS = {"sha256": 64, "sha512": 128}
CANONICAL = "sha256"
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @classmethod
    def parse(cls, value: str, err: Err = Err.DIGEST_INVALID) -> Digest:
        """Parse and validate a digest; anything malformed or of an unsupported algorithm raises `err`."""
        if not isinstance(value, str) or not _GRAMMAR.match(value):
            raise RegistryError(err, f"invalid digest: {value!r}")
        algorithm, encoded = value.split(":", 1)
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise RegistryError(err, f"unsupported digest algorithm: {algorithm!r}")
        if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise RegistryError(err, f"invalid {algorithm} digest: {value!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())
