"""Running the registry outside Lambda: the embedded moto backend used by `dockyard serve`."""
