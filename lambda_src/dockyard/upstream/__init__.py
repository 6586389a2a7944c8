"""Upstream registries for the pull-through cache: their HTTP client (the Docker token flow, Docker Hub's
conventions) and the read side of the storage contracts over it (`UpstreamSource`), so that the cache reads
an upstream the way a pull reads the registry's own storage, and writes through the normal storage."""
