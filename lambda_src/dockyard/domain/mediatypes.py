"""Manifest media types the registry stores, and the layer types it never expects to be pushed."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")

# Content-Types that say nothing about the manifest: the body's mediaType decides.
GENERIC_TYPES = frozenset({"application/json", "application/octet-stream", "text/plain", "*/*"})

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFESTS = IMAGE_MANIFESTS | INDEXES

# Layers that are, by definition, not pushed to the registry (their bytes live elsewhere).
NON_DISTRIBUTABLE_LAYERS = frozenset({
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
})


def base_type(content_type: str | None) -> str | None:
    """`type/subtype` without parameters; registries ignore Content-Type parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None
