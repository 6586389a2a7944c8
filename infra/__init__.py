"""The CDK (Python) infrastructure of a Dockyard deployment."""
