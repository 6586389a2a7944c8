"""Credentials for a registry host: `--creds`, the environment, or docker's credentials file."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.resources import Env


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    identity_token: str | None = None  # docker login's refresh token
    source: str = field(default="", compare=False)  # where they came from, for error messages

    def describe(self) -> str:
        who = "docker login's token" if self.identity_token else f"key {self.username}"
        return f"{who} (from {self.source})" if self.source else who

    @classmethod
    def parse(cls, text: str) -> Credentials:
        username, sep, password = text.partition(":")
        if not sep or not username:
            raise ValueError("credentials must be USER:SECRET")
        return cls(username, password)


def resolve(host: str, creds: str | None = None) -> Credentials | None:
    if creds:
        parsed = Credentials.parse(creds)
        return Credentials(parsed.username, parsed.password, source="--creds")
    for key_var, secret_var in ((Env.KEY_ID, Env.SECRET), (Env.ADMIN_KEY_ID, Env.ADMIN_SECRET)):
        if os.environ.get(key_var) and os.environ.get(secret_var):
            return Credentials(os.environ[key_var], os.environ[secret_var], source=f"{key_var} and {secret_var}")
    return from_docker_config(host)


def how_to_give(host: str) -> str:
    return (f"give credentials with --creds KEY_ID:SECRET, with {Env.KEY_ID} and {Env.SECRET}, or with "
            f"`docker login {host}`")


def searched(host: str) -> str:
    return (f"no credentials found (no --creds, no {Env.KEY_ID}/{Env.SECRET}, no {Env.ADMIN_KEY_ID}/"
            f"{Env.ADMIN_SECRET}, nothing for {host} in docker's config.json)")


def from_docker_config(host: str) -> Credentials | None:
    """`auths` entries (auth / identitytoken), `credHelpers` and `credsStore`, as docker writes them."""
    path = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if helper:
        found = _from_helper(helper, host)
        if found:
            return Credentials(found.username, found.password, found.identity_token,
                               source=f"docker-credential-{helper}")
    auths = config.get("auths") or {}
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/"):
        entry = auths.get(key)
        if not entry:
            continue
        username, password = "", ""
        if entry.get("auth"):
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        where = f"{path} auths[{key!r}]"
        if entry.get("identitytoken"):
            return Credentials(username or "<token>", "", entry["identitytoken"], source=where)
        if username:
            return Credentials(username, password, source=where)
    return None


def _from_helper(helper: str, host: str) -> Credentials | None:
    try:
        result = subprocess.run([f"docker-credential-{helper}", "get"], input=host, capture_output=True,
                                text=True, timeout=30)
        if result.returncode != 0:
            return None
        data = json.loads(result.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if data.get("Username") == "<token>":
        return Credentials("<token>", "", data.get("Secret"))
    return Credentials(data.get("Username", ""), data.get("Secret", ""))
