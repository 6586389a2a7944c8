"""Access control: access keys, per-repository policies, and the Docker registry token flow."""
