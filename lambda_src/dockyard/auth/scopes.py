"""Docker token scopes: `repository:team/app:pull,push`, `registry:catalog:*`."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"


@dataclass(frozen=True)
class Access:
    """One resource and the actions asked for (or granted) on it; the JWT `access` claim entry."""

    type: str
    name: str
    actions: frozenset[str]

    def claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def parse_scope(value: str) -> list[Access]:
    """Parse one `scope` parameter; it may hold several space-separated scopes. Malformed ones are dropped,
    as the token spec lets a server grant less than asked."""
    accesses = []
    for item in value.split():
        resource, _, actions = item.rpartition(":")
        kind, _, name = resource.partition(":")
        kind = kind.split("(", 1)[0]  # `repository(plugin)` is a resource class: same checks
        if kind and name and actions:
            accesses.append(Access(kind, name, frozenset(a for a in actions.split(",") if a)))
    return accesses


def challenge_scope(name: str, actions: tuple[str, ...]) -> str:
    return f"{REPOSITORY}:{name}:{','.join(actions)}"
