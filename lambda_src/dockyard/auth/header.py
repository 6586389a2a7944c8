"""The `Authorization` header, parsed in one place: its scheme and value, and Basic credentials."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from dockyard.errors import Err, RegistryError


@dataclass(frozen=True)
class Authorization:
    scheme: str  # lower case: "basic", "bearer", ...
    value: str

    @classmethod
    def parse(cls, header: str | None) -> Authorization | None:
        """None when there is no header."""
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        return cls(scheme.lower(), value.strip())

    def basic(self) -> tuple[str, str]:
        """(key id, secret) of Basic credentials; anything else is a 401."""
        try:
            decoded = base64.b64decode(self.value, validate=True).decode() if self.scheme == "basic" else ""
        except (binascii.Error, ValueError):
            decoded = ""
        key_id, _, secret = decoded.partition(":")
        return credentials(key_id, secret)


def credentials(key_id: str, secret: str) -> tuple[str, str]:
    """A key id and its secret, as Basic credentials or the OAuth2 password grant carry them."""
    if not key_id or not secret:
        raise RegistryError(Err.UNAUTHORIZED, "malformed Basic credentials")
    return key_id, secret
