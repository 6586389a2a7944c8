"""Blob, manifest-body and upload bytes in S3. Callers pass digests, upload ids and the opaque `location`
strings this module returns; keys are built here and nowhere else."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from dockyard.domain.digest import Digest
from dockyard.resources import UNVERIFIED_TAG
from dockyard.storage import keys

UNVERIFIED = f"{UNVERIFIED_TAG[0]}={UNVERIFIED_TAG[1]}"

MIB = 1024 * 1024


class S3Blobs:
    def __init__(self, client, bucket: str):
        self.client = client
        self.bucket = bucket

    # --- blobs ----------------------------------------------------------------------------------------

    def presign_get(self, location: str, ttl: int) -> str:
        """A short-lived GET URL for a stored blob. Local computation: no S3 call is made."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": location}, ExpiresIn=ttl
        )

    def put_blob(self, digest: Digest, data: bytes) -> str:
        """Write verified bytes at their content address; returns the blob's location."""
        location = keys.blob_key(digest)
        self.client.put_object(Bucket=self.bucket, Key=location, Body=data)
        return location

    def iter_blob(self, location: str, chunk: int = MIB) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=location)["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def blob_exists(self, location: str) -> bool:
        """Whether a recorded blob object is really there (one HEAD; used before reusing a record)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=location)
            return True
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def mark_verified(self, location: str) -> None:
        """Take the `unverified` tag off an object that is now linked, so that no lifecycle rule expires it."""
        self.client.delete_object_tagging(Bucket=self.bucket, Key=location)

    def delete_blob(self, location: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=location)

    # --- upload sessions ------------------------------------------------------------------------------

    def put_tail(self, upload_id: str, data: bytes) -> str:
        """Store the bytes after the last part; returns the tail's handle."""
        nonce = secrets.token_hex(8)
        self.client.put_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, nonce), Body=data)
        return nonce

    def read_tail(self, upload_id: str, tail: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, tail))["Body"].read()

    def delete_tail(self, upload_id: str, tail: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=keys.upload_tail_key(upload_id, tail))

    def start_multipart(self, upload_id: str) -> str:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=keys.assembled_blob_key(upload_id),
                                                       Tagging=UNVERIFIED)
        return response["UploadId"]

    def upload_part(self, upload_id: str, multipart_id: str, number: int, data) -> None:
        self.client.upload_part(
            Bucket=self.bucket, Key=keys.assembled_blob_key(upload_id), UploadId=multipart_id,
            PartNumber=number, Body=data,
        )

    def complete_multipart(self, upload_id: str, multipart_id: str, parts: int) -> str:
        """Assemble parts 1..parts (later numbers are leftovers of failed requests and are dropped).

        Returns the assembled blob's location: the blob stays there once verified, with no copy.
        """
        location = keys.assembled_blob_key(upload_id)
        etags: dict[int, str] = {}
        paginator = self.client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=location, UploadId=multipart_id):
            for part in page.get("Parts", []):
                etags[part["PartNumber"]] = part["ETag"]
        missing = [n for n in range(1, parts + 1) if n not in etags]
        if missing:
            raise RuntimeError(f"upload {upload_id}: parts {missing[:5]} are missing from S3")
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=location, UploadId=multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in range(1, parts + 1)]},
        )
        return location

    def discard_upload(self, upload_id: str, multipart_id: str | None, assembled: bool = False) -> None:
        """Delete what a session left: its multipart upload (or assembled object) and its tails."""
        if multipart_id:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=keys.assembled_blob_key(upload_id), UploadId=multipart_id
                )
            except self.client.exceptions.NoSuchUpload:
                pass
        if assembled:
            self.delete_blob(keys.assembled_blob_key(upload_id))
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=keys.upload_prefix(upload_id)):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    # --- direct uploads: presigned URLs, the client sends the bytes ------------------------------------------

    def direct_location(self, upload_id: str) -> str:
        """A fresh object key for a direct upload: never one that a record may already point at."""
        return keys.direct_blob_key(upload_id, secrets.token_hex(8))

    def presign_put(self, location: str, size: int, sha256_b64: str, ttl: int) -> tuple[str, dict]:
        """A PUT URL bound to the size and the SHA-256 of the content: S3 refuses any other bytes.
        Returns (url, the headers the client must send)."""
        url = self.client.generate_presigned_url("put_object", ExpiresIn=ttl, Params={
            "Bucket": self.bucket, "Key": location, "ContentLength": size, "ChecksumSHA256": sha256_b64,
            "Tagging": UNVERIFIED})
        return url, {"Content-Length": str(size), "x-amz-checksum-sha256": sha256_b64, "x-amz-tagging": UNVERIFIED}

    def start_direct_multipart(self, location: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=location, Tagging=UNVERIFIED)["UploadId"]

    def presign_part(self, location: str, multipart_id: str, number: int, ttl: int) -> str:
        return self.client.generate_presigned_url("upload_part", ExpiresIn=ttl, Params={
            "Bucket": self.bucket, "Key": location, "UploadId": multipart_id, "PartNumber": number})

    def list_parts(self, location: str, multipart_id: str) -> dict[int, tuple[str, int]]:
        """{part number: (etag, size)} of the parts that have landed."""
        parts: dict[int, tuple[str, int]] = {}
        try:
            for page in self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=location,
                                                                         UploadId=multipart_id):
                for part in page.get("Parts", []):
                    parts[part["PartNumber"]] = (part["ETag"], part["Size"])
        except self.client.exceptions.NoSuchUpload:
            return {}
        return parts

    def complete_direct(self, location: str, multipart_id: str, etags: list[str]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=location, UploadId=multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})

    def abort_direct(self, location: str, multipart_id: str | None) -> None:
        if multipart_id:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=location, UploadId=multipart_id)
            except self.client.exceptions.NoSuchUpload:
                pass
        self.delete_blob(location)

    def stored_checksum(self, location: str) -> tuple[int, str | None] | None:
        """(size, base64 SHA-256 that S3 verified at PUT, if any) of an object; None if it is missing."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=location, ChecksumMode="ENABLED")
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        checksum = head.get("ChecksumSHA256")
        # A multipart object's checksum is a checksum of part checksums ("...-N"), not of the content.
        return head["ContentLength"], checksum if checksum and "-" not in checksum else None

    # --- manifest bodies too large for DynamoDB ----------------------------------------------------------

    def put_manifest_body(self, digest: Digest, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=keys.manifest_body_key(digest), Body=body)

    def get_manifest_body(self, digest: Digest) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=keys.manifest_body_key(digest))["Body"].read()
