"""The registry layer: what the HTTP routes call. It maps storage results to OCI errors."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.registry.blobs import Blobs
from dockyard.registry.manifests import Manifests
from dockyard.registry.uploads import Uploads


@dataclass(frozen=True)
class Registry:
    blobs: Blobs
    uploads: Uploads
    manifests: Manifests
