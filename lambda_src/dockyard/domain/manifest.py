"""Manifest validation: media type, structure, and what a manifest references.

`parse_manifest` never changes the bytes: the registry stores and serves exactly what was pushed. It only
reads the JSON to learn the media type, the blobs and child manifests that must already exist in the
repository, and the `subject` used by the referrers API.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.domain import mediatypes as mt
from dockyard.domain.digest import CANONICAL, Digest
from dockyard.errors import Err, RegistryError

# Clients and registries should support manifests of at least 4 MiB; we accept exactly that much.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
# The artifact type (`artifactType`, or an image's config media type) is copied into the manifest's tag and
# referrer entries; RFC 6838 names are at most 127 + 1 + 127 characters, and this leaves room for parameters.
MAX_ARTIFACT_TYPE = 1024


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        """The descriptor as an index (the referrers API's) lists it."""
        value = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            value["artifactType"] = self.artifact_type
        if self.annotations:
            value["annotations"] = self.annotations
        return value


@dataclass(frozen=True)
class Manifest:
    """A validated manifest and what it refers to."""

    body: bytes
    media_type: str
    digest: Digest
    blobs: tuple[Digest, ...] = ()
    children: tuple[Digest, ...] = ()
    subject: Descriptor | None = None
    # For the referrers API: the manifest's artifactType, else (image manifests) the config media type.
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.body)


def _invalid(detail: str) -> RegistryError:
    return RegistryError(Err.MANIFEST_INVALID, detail)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _invalid(f"duplicate key {duplicate[:100]!r}: a reader could take either value")
    return doc


def _no_constant(name: str):
    raise _invalid(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _invalid(f"number {text[:40]} is out of range")
    return value


def _check_strings(doc: Any) -> None:
    """Every string (keys included) must be Unicode that UTF-8 can carry: no lone surrogate escapes."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid("a string holds a lone surrogate (\\ud800-\\udfff) escape") from None


def strict_json(body: bytes) -> Any:
    """Parse RFC 8259 JSON strictly: UTF-8 with no byte order mark, no NaN or Infinity, no duplicate keys,
    no lone surrogates. Python's `json` accepts all of these (and UTF-16 bodies), but other readers of the
    same bytes may not, or may read them differently (a second `"layers"` that a client pulls but we never
    checked)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"manifest is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise _invalid("manifest starts with a byte order mark, which JSON does not allow")
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # our own refusals (RegistryError) pass through
        raise _invalid(f"manifest is not valid JSON: {str(exc)[:200] or 'nested too deeply'}") from None
    _check_strings(doc)
    return doc


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid(f"{where}: annotations must be an object of strings")
    return value


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where}: a descriptor must be an object")
    media_type, size = value.get("mediaType"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: mediaType is required")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: size must be a non-negative integer")
    digest = Digest.parse(value.get("digest"), Err.MANIFEST_INVALID)
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid(f"{where}: artifactType must be a string")
    if "data" in value:
        _check_embedded_data(value["data"], digest, size, where)
    return Descriptor(media_type, digest, size, artifact_type, _string_map(value.get("annotations"), where))


def _check_embedded_data(data: Any, digest: Digest, size: int, where: str) -> None:
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or len(raw) != size or Digest.of(raw, digest.algorithm) != digest:
        raise _invalid(f"{where}: data does not match the descriptor's digest and size")


def _media_type(doc: dict, content_type: str | None) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    header = mt.base_type(content_type)
    if declared and header not in (None, *mt.GENERIC_TYPES) and header != declared:
        raise _invalid(f"Content-Type {header!r} does not match the manifest's mediaType {declared!r}")
    media_type = declared or (header if header in mt.MANIFESTS | set(mt.DOCKER_SCHEMA1) else None)
    if media_type is None:
        # OCI allows mediaType to be absent; tell an index from an image manifest by its shape.
        media_type = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST if "config" in doc else None
    if media_type in mt.DOCKER_SCHEMA1:
        raise _invalid("Docker schema 1 manifests are not supported")
    if media_type not in mt.MANIFESTS:
        raise _invalid(f"unsupported manifest media type: {media_type or header!r}")
    return media_type


def parse_manifest(body: bytes, content_type: str | None, algorithm: str = CANONICAL) -> Manifest:
    """Validate a pushed manifest; raises MANIFEST_INVALID (or MANIFEST_TOO_LARGE) with a precise detail."""
    if len(body) > MAX_MANIFEST_SIZE:
        raise RegistryError(Err.MANIFEST_TOO_LARGE, f"manifest is {len(body)} bytes; the limit is {MAX_MANIFEST_SIZE}")
    doc = strict_json(body)
    if not isinstance(doc, dict):
        raise _invalid("manifest must be a JSON object")
    media_type = _media_type(doc, content_type)
    version = doc.get("schemaVersion")
    if type(version) is not int or version != 2:  # neither 2.0 nor "2" nor true
        raise _invalid(f"schemaVersion must be the integer 2, not {json.dumps(version)[:40]}")

    blobs: list[Digest] = []
    children: list[Digest] = []
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    if media_type in mt.IMAGE_MANIFESTS:
        if "config" not in doc:
            raise _invalid("an image manifest needs a config descriptor")
        config = _descriptor(doc["config"], "config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers must be an array")
        blobs.append(config.digest)
        for i, layer in enumerate(layers):
            descriptor = _descriptor(layer, f"layers[{i}]")
            if descriptor.media_type not in mt.NON_DISTRIBUTABLE_LAYERS:
                blobs.append(descriptor.digest)
        artifact_type = artifact_type or config.media_type
    else:
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise _invalid("an index needs a manifests array")
        children = [_descriptor(m, f"manifests[{i}]").digest for i, m in enumerate(manifests)]
    if artifact_type is not None and len(artifact_type.encode()) > MAX_ARTIFACT_TYPE:
        raise _invalid(f"the artifact type (artifactType, or the config's mediaType) is limited to "
                       f"{MAX_ARTIFACT_TYPE} bytes")

    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    return Manifest(
        body=body,
        media_type=media_type,
        digest=Digest.of(body, algorithm),
        blobs=tuple(dict.fromkeys(blobs)),
        children=tuple(dict.fromkeys(children)),
        subject=subject,
        artifact_type=artifact_type,
        annotations=_string_map(doc.get("annotations"), "manifest"),
    )
