"""The Authorization header, as every route and the token endpoint read it."""

import base64

import pytest

from dockyard.auth.header import Authorization, credentials
from dockyard.errors import Err, RegistryError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_scheme_is_case_insensitive_and_the_value_trimmed():
    assert Authorization.parse("  bEaReR   abc.def  ") == Authorization("bearer", "abc.def")
    assert Authorization.parse(None) is None and Authorization.parse("") is None


def test_basic_credentials_split_at_the_first_colon():
    assert Authorization.parse(f"Basic {b64('dyk_1:se:cret')}").basic() == ("dyk_1", "se:cret")


@pytest.mark.parametrize("header", ["Basic !!!", f"Basic {b64('no-colon')}", f"Basic {b64(':secret')}",
                                    f"Basic {b64('id:')}", f"Bearer {b64('id:secret')}", "Basic"])
def test_malformed_basic_credentials_are_a_401(header):
    with pytest.raises(RegistryError) as raised:
        Authorization.parse(header).basic()
    assert raised.value.err is Err.UNAUTHORIZED


def test_a_password_grant_needs_both_halves():
    assert credentials("id", "secret") == ("id", "secret")
    with pytest.raises(RegistryError):
        credentials("", "secret")
