"""HTTP routes: each parses input, makes one call into the registry layer and sets headers."""
