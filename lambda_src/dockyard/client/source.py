"""What `dockyard push` reads: an OCI image layout (`oci:PATH[:TAG]`) or a `docker save` tarball
(`docker-archive:PATH`). Blobs are read from disk in ranges when sent, never loaded whole."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

INDEXES = {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


class SourceError(Exception):
    """The source cannot be read as an image."""


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    opener: Callable[[], BinaryIO] = field(repr=False, compare=False)

    def open(self) -> BinaryIO:
        """A reader of exactly this blob's bytes."""
        return self.opener()


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes


@dataclass
class Image:
    """Everything to push: blobs, then manifests in order (children before the index that lists them)."""

    blobs: dict[str, Blob]
    manifests: list[Manifest]

    @property
    def top(self) -> Manifest:
        return self.manifests[-1]


class _Window(io.RawIOBase):
    """A read-only view of `size` bytes at `offset` of a file."""

    def __init__(self, path: Path, offset: int, size: int):
        self._file = path.open("rb")
        self._base, self._size = offset, size
        self._file.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or not 0 <= position <= self._size:
            raise OSError("only absolute seeks within the blob")
        self._file.seek(self._base + position)
        self._left = self._size - position
        return position

    def tell(self) -> int:
        return self._size - self._left

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0
        n = self._file.readinto(memoryview(buffer)[:min(len(buffer), self._left)])
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def load(source: str) -> Image:
    kind, _, rest = source.partition(":")
    if kind == "oci":
        path, _, tag = rest.rpartition(":") if ":" in rest and not Path(rest).exists() else (rest, "", "")
        return _oci(_Dir(Path(path)), tag or None)
    if kind == "docker-archive":
        return _docker_archive(Path(rest))
    raise SourceError(f"unsupported source {source!r}: use oci:PATH[:TAG] or docker-archive:PATH")


class _Dir:
    """Blobs of an OCI layout in a directory."""

    def __init__(self, root: Path):
        if not (root / "index.json").is_file():
            raise SourceError(f"{root} is not an OCI image layout (no index.json)")
        self.root = root

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def blob(self, digest: str) -> Blob:
        algorithm, _, encoded = digest.partition(":")
        path = self.root / "blobs" / algorithm / encoded
        if not path.is_file():
            raise SourceError(f"blob {digest} is missing from the layout")
        return Blob(digest, path.stat().st_size, lambda: io.BufferedReader(_Window(path, 0, path.stat().st_size)))


class _Tar:
    """Members of a tarball, opened as windows of the file (tar members are stored contiguously)."""

    def __init__(self, path: Path):
        self.path = path
        with tarfile.open(path) as tar:
            self.members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}

    def read(self, name: str) -> bytes:
        member = self._member(name)
        with self._open(member) as f:
            return f.read()

    def _member(self, name: str) -> tarfile.TarInfo:
        member = self.members.get(name.lstrip("./"))
        if member is None:
            raise SourceError(f"{name} is missing from {self.path}")
        return member

    def _open(self, member: tarfile.TarInfo) -> BinaryIO:
        return io.BufferedReader(_Window(self.path, member.offset_data, member.size))

    def blob(self, digest: str) -> Blob:
        algorithm, _, encoded = digest.partition(":")
        member = self._member(f"blobs/{algorithm}/{encoded}")
        return Blob(digest, member.size, lambda: self._open(member))

    def member_blob(self, name: str) -> Blob:
        """A member as a blob whose digest is computed by streaming it once."""
        member = self._member(name)
        h = hashlib.sha256()
        with self._open(member) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return Blob("sha256:" + h.hexdigest(), member.size, lambda: self._open(member))


def _oci(layout, tag: str | None) -> Image:
    index = json.loads(layout.read("index.json"))
    entries = index.get("manifests", [])
    if tag:
        entries = [e for e in entries if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag]
    if len(entries) != 1:
        raise SourceError(f"the layout has {len(entries)} manifests{' tagged ' + tag if tag else ''}; name one tag")
    image = Image({}, [])
    _collect(layout, entries[0], image)
    return image


def _collect(layout, descriptor: dict, image: Image) -> None:
    """Depth first: a child manifest is pushed before the index that lists it."""
    body = _read_blob(layout, descriptor["digest"])
    doc = json.loads(body)
    media_type = descriptor.get("mediaType") or doc.get("mediaType")
    if media_type in INDEXES:
        for child in doc.get("manifests", []):
            _collect(layout, child, image)
    else:
        for blob in [doc["config"], *doc.get("layers", [])]:
            if "nondistributable" in blob.get("mediaType", "") or "foreign" in blob.get("mediaType", ""):
                continue
            image.blobs.setdefault(blob["digest"], layout.blob(blob["digest"]))
    if descriptor["digest"] not in {m.digest for m in image.manifests}:
        image.manifests.append(Manifest(descriptor["digest"], media_type, body))


def _read_blob(layout, digest: str) -> bytes:
    with layout.blob(digest).open() as f:
        body = f.read()
    if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        raise SourceError(f"blob {digest} does not match its digest")
    return body


def _docker_archive(path: Path) -> Image:
    tar = _Tar(path)
    if "index.json" in tar.members and "oci-layout" in tar.members:
        return _oci(tar, None)  # docker 25+ saves an OCI layout
    try:
        [entry] = json.loads(tar.read("manifest.json"))[:1]
    except ValueError:
        raise SourceError(f"{path} has no image in manifest.json") from None
    config = tar.member_blob(entry["Config"])
    layers = [tar.member_blob(name) for name in entry["Layers"]]
    body = json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.size, "digest": config.digest},
        "layers": [{"mediaType": DOCKER_LAYER, "size": b.size, "digest": b.digest} for b in layers],
    }, indent=3).encode()
    blobs = {b.digest: b for b in [config, *layers]}
    return Image(blobs, [Manifest("sha256:" + hashlib.sha256(body).hexdigest(), DOCKER_MANIFEST, body)])
