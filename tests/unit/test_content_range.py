"""Content-Range of upload chunks, and the Range an upload reports."""

import pytest

from dockyard.errors import Err, RegistryError
from dockyard.domain.ranges import Chunk, range_header


@pytest.mark.parametrize("value,start,end", [
    ("0-99", 0, 99), ("100-100", 100, 100), ("bytes 0-9/10", 0, 9), ("bytes=5-9", 5, 9), ("bytes 0-9/*", 0, 9),
])
def test_content_range_forms(value, start, end):
    chunk = Chunk.parse(value, None)
    assert (chunk.start, chunk.end, chunk.length) == (start, end, end - start + 1)


@pytest.mark.parametrize("value", ["", "10", "9-0", "a-b", "-1-5", "0-", "bytes 0-9/x"])
def test_malformed_content_range_is_upload_invalid(value):
    with pytest.raises(RegistryError) as raised:
        Chunk.parse(value, None)
    assert raised.value.err is Err.BLOB_UPLOAD_INVALID


def test_content_length_must_match_the_range():
    with pytest.raises(RegistryError) as raised:
        Chunk.parse("0-9", 11)
    assert raised.value.err is Err.SIZE_INVALID


def test_no_content_range_means_append():
    assert Chunk.parse(None, 5) is None


def test_range_header():
    assert range_header(0) == "0-0"
    assert range_header(1) == "0-0"
    assert range_header(100) == "0-99"
