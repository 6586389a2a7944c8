"""Blob, manifest-body and upload bytes in S3 (`ByteStore`). Callers pass digests, upload ids and the opaque
`location` strings this module returns; keys are built here and nowhere else.

Every multipart upload, whether the registry sends the parts (a chunked upload) or a client does with
presigned URLs (a direct upload), goes through one API: start, upload or presign parts, list, complete,
abort.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from dockyard.domain.digest import Digest
from dockyard.resources import UNVERIFIED_TAG
from dockyard.storage import keys
from dockyard.storage.presign import presigned_get
from dockyard.storage.s3_limits import MIB
from dockyard.storage.types import ObjectStat, Part

UNVERIFIED = f"{UNVERIFIED_TAG[0]}={UNVERIFIED_TAG[1]}"
VERIFIED = {"TagSet": [{"Key": UNVERIFIED_TAG[0], "Value": "verified"}]}
MISSING = ("404", "NoSuchKey", "NotFound")


class S3Objects:
    def __init__(self, client, bucket: str, edge=None):
        self.client = client
        self.bucket = bucket
        self.edge = edge  # `EdgeDownloads`: blob GETs go to CloudFront signed URLs instead

    # --- objects ------------------------------------------------------------------------------------

    def presign_get(self, location: str, ttl: int) -> str:
        if self.edge is not None:
            return self.edge.url(location, ttl)
        return presigned_get(self.client, self.bucket, location, ttl)

    def iter_blob(self, location: str, chunk: int = MIB) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=location)["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def stat(self, location: str) -> ObjectStat | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=location, ChecksumMode="ENABLED")
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise
        checksum = head.get("ChecksumSHA256")
        # A multipart object's checksum is a checksum of part checksums ("...-N"), not of the content.
        return ObjectStat(head["ContentLength"], checksum if checksum and "-" not in checksum else None)

    def put_blob(self, digest: Digest, data: bytes) -> str:
        location = keys.blob_key(digest)
        self.client.put_object(Bucket=self.bucket, Key=location, Body=data)
        return location

    def delete_blob(self, location: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=location)

    def mark_verified(self, location: str) -> None:
        # Retagged rather than untagged: the serving role may not delete anything under blobs/, and S3 (and
        # moto) authorize DeleteObjectTagging close to DeleteObject.
        self.client.put_object_tagging(Bucket=self.bucket, Key=location, Tagging=VERIFIED)

    def read_blob(self, location: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=location)["Body"].read()

    # --- uploads ------------------------------------------------------------------------------------

    def assembly_location(self, upload_id: str) -> str:
        return keys.assembled_blob_key(upload_id)

    def direct_location(self, upload_id: str) -> str:
        return keys.direct_blob_key(upload_id, secrets.token_hex(8))

    def presign_put(self, location: str, size: int, sha256_b64: str, ttl: int) -> tuple[str, dict]:
        url = self.client.generate_presigned_url("put_object", ExpiresIn=ttl, Params={
            "Bucket": self.bucket, "Key": location, "ContentLength": size, "ChecksumSHA256": sha256_b64,
            "Tagging": UNVERIFIED})
        return url, {"Content-Length": str(size), "x-amz-checksum-sha256": sha256_b64, "x-amz-tagging": UNVERIFIED}

    def start_multipart(self, location: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=location, Tagging=UNVERIFIED)["UploadId"]

    def upload_part(self, location: str, multipart_id: str, number: int, data) -> None:
        self.client.upload_part(Bucket=self.bucket, Key=location, UploadId=multipart_id, PartNumber=number, Body=data)

    def presign_part(self, location: str, multipart_id: str, number: int, ttl: int) -> str:
        return self.client.generate_presigned_url("upload_part", ExpiresIn=ttl, Params={
            "Bucket": self.bucket, "Key": location, "UploadId": multipart_id, "PartNumber": number})

    def list_parts(self, location: str, multipart_id: str) -> dict[int, Part]:
        parts: dict[int, Part] = {}
        try:
            for page in self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=location,
                                                                         UploadId=multipart_id):
                for part in page.get("Parts", []):
                    parts[part["PartNumber"]] = Part(part["ETag"], part["Size"])
        except self.client.exceptions.NoSuchUpload:
            return {}
        return parts

    def complete_multipart(self, location: str, multipart_id: str, etags: list[str]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=location, UploadId=multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})

    def abort_multipart(self, location: str, multipart_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=location, UploadId=multipart_id)
        except self.client.exceptions.NoSuchUpload:
            pass

    # --- tails: bytes after a chunked session's last part ------------------------------------------

    def put_tail(self, upload_id: str, data: bytes) -> str:
        nonce = secrets.token_hex(8)
        self.client.put_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, nonce), Body=data)
        return nonce

    def read_tail(self, upload_id: str, tail: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, tail))["Body"].read()

    def delete_tail(self, upload_id: str, tail: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, tail))

    def delete_tails(self, upload_id: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=keys.upload_prefix(upload_id)):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
