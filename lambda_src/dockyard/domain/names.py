"""Repository names and tags, validated against the distribution-spec grammars."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
# Globs over repository names (`*` matches any run of characters, `/` included) and over tags.
_REPOSITORY_GLOB = re.compile(r"[a-z0-9._/*-]{1,255}\Z")
_TAG_GLOB = re.compile(r"[A-Za-z0-9_.*?-]{1,128}\Z")
# Together with a host name, a reference must stay under 256 characters.
MAX_NAME_LENGTH = 255


def validate_name(name: str) -> str:
    """A repository name such as `team/app/web`; raises NAME_INVALID otherwise."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        raise RegistryError(Err.NAME_INVALID, f"invalid repository name: {name[:300]!r}")
    return name


def is_tag(value: str) -> bool:
    return bool(_TAG.match(value))


def validate_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError(Err.MANIFEST_INVALID, f"invalid tag: {tag[:200]!r}")
    return tag


def parse_reference(reference: str) -> str | Digest:
    """A manifest reference is a tag or a digest; a malformed one raises the matching error."""
    if ":" in reference:
        return Digest.parse(reference)
    return validate_tag(reference)


def is_repository_glob(value: str) -> bool:
    return bool(_REPOSITORY_GLOB.match(value))


def is_tag_glob(value: str) -> bool:
    return bool(_TAG_GLOB.match(value))


def most_specific(repository: str, patterns):
    """The pattern of `patterns` (repository globs) that applies to `repository`: the longest matching glob,
    then the first in byte order, so that `team/*` can be refined by `team/app`; None if none matches."""
    matching = [p for p in patterns if fnmatchcase(repository, p)]
    return min(matching, key=lambda p: (-len(p), p)) if matching else None
