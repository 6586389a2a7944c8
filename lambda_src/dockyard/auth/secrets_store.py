"""Secrets the registry reads from Secrets Manager: the token signing keyring and, in a deployed stack, the
bootstrap admin key. Each is read once per process; nothing here is ever logged."""

from __future__ import annotations

import json

from dockyard.auth.tokens import Keyring


def read_keyring(client, secret_id: str) -> Keyring:
    return Keyring.from_json(client.get_secret_value(SecretId=secret_id)["SecretString"])


def read_bootstrap_admin(client, secret_id: str) -> str | None:
    """The secret of the deployment's first admin key (`{"id": "dockyard-admin", "secret": ...}`), or None
    once the operator has emptied it (which disables that key)."""
    secret = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"]).get("secret")
    return secret if isinstance(secret, str) and len(secret) >= 32 else None


def ensure_keyring(client, secret_id: str) -> bool:
    """Create the signing secret with a fresh key if it is missing (local servers). True if created."""
    try:
        client.describe_secret(SecretId=secret_id)
        return False
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=secret_id, SecretString=Keyring.generate_json(),
                             Description="Dockyard token signing keys")
        return True


def rotate_keyring(client, secret_id: str) -> str:
    """Add a new signing key and make it current; the previous one stays to verify tokens already issued
    (older ones are dropped). Returns the new key id. Hosts pick it up within `KEYRING_SECONDS`, or at once
    when they meet a token signed with it."""
    import secrets

    data = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    previous = data.get("current")
    numbers = [int(kid[1:]) for kid in data if kid.startswith("k") and kid[1:].isdigit()]
    kid = f"k{max(numbers, default=0) + 1}"
    rotated = {"current": kid, kid: secrets.token_urlsafe(48)}
    if previous in data:
        rotated[previous] = data[previous]
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(rotated))
    return kid
