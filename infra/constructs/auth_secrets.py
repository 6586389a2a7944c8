"""The two secrets of a deployment: the token signing keyring, and the bootstrap admin key."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from dockyard.resources import BOOTSTRAP_KEY_ID
from infra.config import StackOptions
from infra.names import Ids


class AuthSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, options: StackOptions):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY
        # {"current": "k1", "k1": "<64 random characters>"}: the format `dockyard signing-key rotate` extends.
        self.signing = secretsmanager.Secret(
            self, Ids.SIGNING_SECRET, description="Dockyard token signing keys (HS256, by key id)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"current": "k1"}), generate_string_key="k1",
                password_length=64, exclude_punctuation=True),
            removal_policy=removal,
        )
        # {"id": "dockyard-admin", "secret": "<64 random characters>"}: the first admin key.
        self.bootstrap_admin = secretsmanager.Secret(
            self, Ids.ADMIN_SECRET, description="Dockyard bootstrap admin key (empty 'secret' to disable it)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"id": BOOTSTRAP_KEY_ID}), generate_string_key="secret",
                password_length=64, exclude_punctuation=True),
            removal_policy=removal,
        )
