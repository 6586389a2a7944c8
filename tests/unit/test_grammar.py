"""Digests, repository names, tags and references against the spec's grammars."""

import pytest

from dockyard.domain.digest import Digest
from dockyard.domain.names import parse_reference, validate_name
from dockyard.errors import Err, RegistryError

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


@pytest.mark.parametrize("value", [SHA256, SHA512])
def test_valid_digests_parse(value):
    assert str(Digest.parse(value)) == value


@pytest.mark.parametrize("value", [
    "", "sha256", "sha256:", "sha256:" + "a" * 63, "sha256:" + "A" * 64, "sha256:" + "g" * 64,
    "sha512:" + "a" * 64, "md5:" + "a" * 32, "SHA256:" + "a" * 64, "sha256:" + "a" * 64 + "\n",
])
def test_invalid_digests_are_digest_invalid(value):
    with pytest.raises(RegistryError) as raised:
        Digest.parse(value)
    assert raised.value.err is Err.DIGEST_INVALID


def test_digest_of_matches_the_algorithm():
    assert str(Digest.of(b"")) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert Digest.of(b"x", "sha512").algorithm == "sha512"


@pytest.mark.parametrize("name", ["app", "team/app", "team/app/web", "a.b_c__d-e---f/x0", "0", "a" * 255])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", [
    "", "App", "team//app", "/team", "team/", "-app", "app-", "a..b", "a___b", "team/app:tag", "a b",
    "a" * 256, "../etc", "team/app/",
])
def test_invalid_names_are_name_invalid(name):
    with pytest.raises(RegistryError) as raised:
        validate_name(name)
    assert raised.value.err is Err.NAME_INVALID


@pytest.mark.parametrize("ref", ["latest", "v1.2.3", "_x", "A" * 128, "1.0-rc_1"])
def test_tags_are_references(ref):
    assert parse_reference(ref) == ref


@pytest.mark.parametrize("ref,err", [
    ("-bad", Err.MANIFEST_INVALID), (".x", Err.MANIFEST_INVALID), ("a" * 129, Err.MANIFEST_INVALID),
    ("sha256:abc", Err.DIGEST_INVALID), ("x:y", Err.DIGEST_INVALID),
])
def test_bad_references_are_refused(ref, err):
    with pytest.raises(RegistryError) as raised:
        parse_reference(ref)
    assert raised.value.err is err


@pytest.mark.parametrize("value", ["app\n", "team/app\n"])
def test_a_trailing_newline_is_not_part_of_a_name(value):
    with pytest.raises(RegistryError):
        validate_name(value)


def test_a_trailing_newline_is_not_part_of_a_tag_or_digest():
    with pytest.raises(RegistryError):
        parse_reference("latest\n")
    with pytest.raises(RegistryError):
        Digest.parse(SHA256 + "\n")
