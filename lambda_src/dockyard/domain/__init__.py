"""Pure OCI domain rules: digests, names, media types, manifests. No I/O."""
