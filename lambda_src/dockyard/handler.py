"""The AWS Lambda entry point: the FastAPI app behind Mangum. No AWS client is created at import time."""

from mangum import Mangum

from dockyard.app import create_app

# Manifests and registry JSON must come back as text; everything else (blobs, octet-stream) as base64.
TEXT_MIME_TYPES = [
    "application/json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
]

handler = Mangum(create_app(), lifespan="off", text_mime_types=TEXT_MIME_TYPES)
