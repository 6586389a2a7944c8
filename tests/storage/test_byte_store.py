"""`ByteStore`: objects, one multipart API for parts sent by the registry or by a client, and tails."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import httpx

from dockyard.domain.digest import Digest
from dockyard.storage.s3_limits import MIN_PART_SIZE

PART = os.urandom(MIN_PART_SIZE)


def test_a_blob_is_written_at_a_fresh_location_each_time_and_stated(storage):
    data = b"verified bytes"
    location = storage.objects.put_blob(Digest.of(data), data)
    again = storage.objects.put_blob(Digest.of(data), data)
    assert location != again  # never a key a record may point at (or may have pointed at, then doomed)
    assert storage.objects.stat(location).size == len(data)
    assert b"".join(storage.objects.iter_blob(location)) == data == storage.objects.read_blob(again)
    storage.objects.delete_blob(location)
    storage.objects.delete_blob(location)
    assert storage.objects.stat(location) is None


def test_parts_sent_by_the_registry_assemble_in_order(storage):
    location = storage.objects.assembly_location(str(uuid.uuid4()))
    multipart_id = storage.objects.start_multipart(location)
    storage.objects.upload_part(location, multipart_id, 2, b"tail")
    storage.objects.upload_part(location, multipart_id, 1, PART)
    storage.objects.upload_part(location, multipart_id, 3, b"leftover of a failed request")
    landed = storage.objects.list_parts(location, multipart_id)
    assert sorted(landed) == [1, 2, 3] and landed[1].size == len(PART)
    storage.objects.complete_multipart(location, multipart_id, [landed[1].etag, landed[2].etag])
    assert b"".join(storage.objects.iter_blob(location)) == PART + b"tail"


def test_parts_sent_by_a_client_land_through_presigned_urls(storage):
    location = storage.objects.direct_location(str(uuid.uuid4()))
    assert location != storage.objects.direct_location("same") != storage.objects.direct_location("same")
    multipart_id = storage.objects.start_multipart(location)
    for number, data in ((1, PART), (2, b"end")):
        url = storage.objects.presign_part(location, multipart_id, number, 60)
        assert httpx.put(url, content=data).status_code == 200
    landed = storage.objects.list_parts(location, multipart_id)
    assert [landed[n].size for n in (1, 2)] == [len(PART), 3]
    storage.objects.complete_multipart(location, multipart_id, [landed[1].etag, landed[2].etag])
    assert storage.objects.stat(location).size == len(PART) + 3


def test_an_aborted_multipart_upload_is_gone_and_aborting_again_is_harmless(storage):
    location = storage.objects.direct_location(str(uuid.uuid4()))
    multipart_id = storage.objects.start_multipart(location)
    storage.objects.upload_part(location, multipart_id, 1, b"x")
    storage.objects.abort_multipart(location, multipart_id)
    storage.objects.abort_multipart(location, multipart_id)
    assert storage.objects.list_parts(location, multipart_id) == {}
    assert storage.objects.stat(location) is None


def test_a_presigned_put_names_the_size_and_checksum_it_accepts(storage):
    data = b"sent by the client"
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    location = storage.objects.direct_location(str(uuid.uuid4()))
    url, headers = storage.objects.presign_put(location, len(data), sha, 60)
    assert headers["Content-Length"] == str(len(data)) and headers["x-amz-checksum-sha256"] == sha
    assert httpx.put(url, content=data, headers=headers).status_code == 200
    assert storage.objects.stat(location).size == len(data)
