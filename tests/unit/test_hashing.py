"""The resumable SHA-256 gives hashlib's results across save/restore, and refuses foreign state."""

import hashlib
import os

import pytest

from dockyard.domain.hashing import ResumableSha256




def test_resumed_state_continues_the_same_digest():
    data = os.urandom(3 * 1024 * 1024 + 17)
    first = ResumableSha256()
    first.update(data[:1_000_001])
    second = ResumableSha256(first.state())
    second.update(bytearray(data[1_000_001:2_000_000]))
    third = ResumableSha256(second.state())
    third.update(memoryview(data)[2_000_000:])
    assert third.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hexdigest_leaves_the_state_untouched():
    h = ResumableSha256()
    h.update(b"abc")
    assert h.hexdigest() == h.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    h.update(b"def")
    assert h.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_empty_input():
    assert ResumableSha256().hexdigest() == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("state", [b"", b"garbage", b"dy-sha256-1l" + b"\0" * 10])
def test_foreign_state_is_refused(state):
    assert not ResumableSha256.can_resume(state)
    with pytest.raises(ValueError):
        ResumableSha256(state)


def test_available_here():
    # Linux hosts (CI, Lambda) must have it: the registry would otherwise re-hash every chunked upload.
    assert ResumableSha256.available()
