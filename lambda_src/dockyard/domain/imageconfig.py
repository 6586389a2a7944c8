"""Reading what people want to see of an image: its platform, its config (created, author, build history,
environment, entrypoint, ports, labels) and its layers. Nothing here validates: the manifest was validated
when it was pushed, and a config is shown as far as it can be read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dockyard.domain import mediatypes as mt

# Config media types of container images (anything else is an artifact: a signature, an SBOM, a chart).
IMAGE_CONFIGS = frozenset({"application/vnd.oci.image.config.v1+json",
                           "application/vnd.docker.container.image.v1+json"})


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int
    annotations: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Child:
    """A manifest an index lists."""

    digest: str
    media_type: str
    size: int
    platform: str | None
    artifact_type: str | None = None


@dataclass(frozen=True)
class Step:
    """One entry of the build history."""

    created: str | None
    created_by: str
    comment: str | None
    empty_layer: bool


@dataclass(frozen=True)
class ImageConfig:
    platform: str | None
    created: str | None = None
    author: str | None = None
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str | None = None
    user: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    history: list[Step] = field(default_factory=list)

    def layer_steps(self, layers: int) -> list[Step | None]:
        """The build step that made each of `layers` layers: the history entries that are not `empty_layer`,
        in order, when there is one per layer; no steps (None each) when the history does not match."""
        steps = [step for step in self.history if not step.empty_layer]
        return steps if len(steps) == layers else [None] * layers


@dataclass(frozen=True)
class Parsed:
    """A manifest body as the page shows it."""

    kind: str  # "image", "index" or "artifact"
    config: Layer | None = None
    layers: list[Layer] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    artifact_type: str | None = None
    subject: str | None = None
    annotations: dict = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """Bytes a pull of this image transfers (config and layers, compressed), not counting the manifest."""
        return (self.config.size if self.config else 0) + sum(layer.size for layer in self.layers)


def platform(value) -> str | None:
    """`os/architecture[/variant]` of a platform object (of an index entry or of a config)."""
    if not isinstance(value, dict) or not value.get("os") or not value.get("architecture"):
        return None
    parts = [str(value["os"]), str(value["architecture"])]
    if value.get("variant"):
        parts.append(str(value["variant"]))
    return "/".join(parts)


def _descriptor_fields(value) -> tuple[str, str, int]:
    value = value if isinstance(value, dict) else {}
    size = value.get("size")
    return str(value.get("digest", "")), str(value.get("mediaType", "")), size if isinstance(size, int) else 0


def parse_body(body: bytes | None, media_type: str) -> Parsed:
    """The parts of a stored manifest (its body was checked at push)."""
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else {}
    subject = doc.get("subject", {}).get("digest") if isinstance(doc.get("subject"), dict) else None
    if media_type in mt.INDEXES:
        children = []
        for entry in doc.get("manifests") or []:
            digest, child_type, size = _descriptor_fields(entry)
            children.append(Child(digest, child_type, size, platform(entry.get("platform")),
                                  entry.get("artifactType")))
        return Parsed("index", children=children, artifact_type=doc.get("artifactType"), subject=subject,
                      annotations=annotations)
    config = Layer(*_descriptor_fields(doc.get("config")))
    layers = [Layer(*_descriptor_fields(entry), annotations=entry.get("annotations") or {})
              for entry in doc.get("layers") or [] if isinstance(entry, dict)]
    artifact_type = doc.get("artifactType") or (None if config.media_type in IMAGE_CONFIGS else config.media_type)
    kind = "artifact" if artifact_type else "image"
    return Parsed(kind, config=config, layers=layers, artifact_type=artifact_type, subject=subject,
                  annotations=annotations)


def _strings(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def parse_config(data: bytes) -> ImageConfig | None:
    """An image config blob, or None when it is not JSON."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    run = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    history = [Step(h.get("created"), str(h.get("created_by") or ""), h.get("comment"), bool(h.get("empty_layer")))
               for h in doc.get("history") or [] if isinstance(h, dict)]
    labels = run.get("Labels") if isinstance(run.get("Labels"), dict) else {}
    return ImageConfig(
        platform=platform(doc),
        created=doc.get("created") if isinstance(doc.get("created"), str) else None,
        author=doc.get("author") if isinstance(doc.get("author"), str) else None,
        env=_strings(run.get("Env")),
        entrypoint=_strings(run["Entrypoint"]) if isinstance(run.get("Entrypoint"), list) else None,
        cmd=_strings(run["Cmd"]) if isinstance(run.get("Cmd"), list) else None,
        working_dir=run.get("WorkingDir") or None,
        user=run.get("User") or None,
        exposed_ports=sorted(run["ExposedPorts"]) if isinstance(run.get("ExposedPorts"), dict) else [],
        volumes=sorted(run["Volumes"]) if isinstance(run.get("Volumes"), dict) else [],
        labels={str(k): str(v) for k, v in labels.items()},
        history=history,
    )
