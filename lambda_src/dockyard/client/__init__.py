"""Client side of Dockyard (not part of the Lambda package): `dockyard push` and `dockyard gateway`."""
