"""Upstream credentials in Secrets Manager (`CredentialStore`): one secret per upstream credential, named
under the registry's own prefix (which the function's role is limited to), encrypted at rest by Secrets
Manager. A new secret is made for every change, so that the upstream item, written after it, switches from
one secret to the next atomically; the old one is deleted after that."""

from __future__ import annotations

import json
import secrets


class SecretsManagerCredentials:
    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix

    def put_credentials(self, upstream: str, username: str, password: str) -> str:
        name = f"{self.prefix}{upstream}-{secrets.token_hex(6)}"
        answer = self.client.create_secret(Name=name, SecretString=json.dumps({"username": username,
                                                                               "password": password}),
                                           Description=f"Dockyard upstream {upstream}: credentials")
        return answer["ARN"]

    def get_credentials(self, secret_id: str) -> tuple[str, str]:
        data = json.loads(self.client.get_secret_value(SecretId=secret_id)["SecretString"])
        return data["username"], data["password"]

    def delete_credentials(self, secret_id: str) -> None:
        try:
            self.client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
        except self.client.exceptions.ResourceNotFoundException:
            pass
