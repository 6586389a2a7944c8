"""The write side of governance: immutability rules."""

from __future__ import annotations

from dockyard.storage.types import ImmutabilityRule


def test_immutability_rules_are_listed_by_glob_replaced_and_deleted(storage):
    assert storage.governance.list_immutability() == []
    storage.governance.put_immutability(ImmutabilityRule("prod/*", ("latest", "dev-*"), 5))
    storage.governance.put_immutability(ImmutabilityRule("*", (), 6))
    assert storage.governance.list_immutability() == [ImmutabilityRule("*", (), 6),
                                                      ImmutabilityRule("prod/*", ("latest", "dev-*"), 5)]
    storage.governance.put_immutability(ImmutabilityRule("prod/*", (), 7))
    assert storage.governance.list_immutability()[1] == ImmutabilityRule("prod/*", (), 7)
    assert storage.governance.delete_immutability("prod/*") is True
    assert storage.governance.delete_immutability("prod/*") is False
    assert storage.governance.list_immutability() == [ImmutabilityRule("*", (), 6)]
