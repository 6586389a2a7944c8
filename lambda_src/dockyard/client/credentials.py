"""Credentials for a registry host: `--creds`, the environment, or docker's credentials file."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dockyard.resources import Env


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    identity_token: str | None = None  # docker login's refresh token

    @classmethod
    def parse(cls, text: str) -> Credentials:
        username, sep, password = text.partition(":")
        if not sep or not username:
            raise ValueError("credentials must be USER:SECRET")
        return cls(username, password)


def resolve(host: str, creds: str | None = None) -> Credentials | None:
    if creds:
        return Credentials.parse(creds)
    for key_var, secret_var in ((Env.KEY_ID, Env.SECRET), (Env.ADMIN_KEY_ID, Env.ADMIN_SECRET)):
        if os.environ.get(key_var) and os.environ.get(secret_var):
            return Credentials(os.environ[key_var], os.environ[secret_var])
    return from_docker_config(host)


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
            return found
    auths = config.get("auths") or {}
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/"):
        entry = auths.get(key)
        if not entry:
            continue
        username, password = "", ""
        if entry.get("auth"):
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        if entry.get("identitytoken"):
            return Credentials(username or "<token>", "", entry["identitytoken"])
        if username:
            return Credentials(username, password)
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
