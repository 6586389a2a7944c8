"""The registry layer: what the HTTP routes call. It maps storage results to OCI errors."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.auth.admin import AccessAdmin
from dockyard.auth.service import Auth
from dockyard.config import Settings
from dockyard.registry.blobs import Blobs
from dockyard.registry.direct import DirectUploads
from dockyard.registry.manifests import Manifests
from dockyard.registry.uploads import Uploads


@dataclass(frozen=True)
class Registry:
    settings: Settings
    blobs: Blobs
    uploads: Uploads
    direct: DirectUploads
    manifests: Manifests
    auth: Auth
    access: AccessAdmin
