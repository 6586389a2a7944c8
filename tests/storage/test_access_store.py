"""`AccessStore`: keys (never expired away by the table), conditional revocation and use stamps, and the
anonymous rules."""

from __future__ import annotations

import uuid

from dockyard.storage.types import AccessKeyRecord


def key(storage, **fields) -> AccessKeyRecord:
    record = AccessKeyRecord(**{"id": f"dyk_{uuid.uuid4().hex[:20]}", "name": "ci", "rules": [("team/*", ["pull"])],
                                "salt": "00" * 16, "secret_hash": "ab" * 32, "created_at": 1000, **fields})
    storage.access.put_access_key(record)
    return record


def test_a_key_reads_back_as_stored(storage):
    record = key(storage, expires_at=5000)
    assert storage.access.get_access_key(record.id) == record
    assert storage.access.get_access_key("dyk_none") is None


def test_keys_list_by_id_in_pages(storage):
    made = sorted((key(storage) for _ in range(5)), key=lambda r: r.id)
    assert storage.access.list_access_keys(10, None).items == made
    first = storage.access.list_access_keys(3, None)
    assert first.items == made[:3] and first.last == made[2].id
    rest = storage.access.list_access_keys(3, first.last)
    assert rest.items == made[3:] and rest.last is None


def test_the_first_revocation_time_stays(storage):
    record = key(storage)
    assert storage.access.revoke_access_key(record.id, 2000) is True
    assert storage.access.revoke_access_key(record.id, 3000) is True
    assert storage.access.get_access_key(record.id).revoked_at == 2000
    assert storage.access.revoke_access_key("dyk_none", 2000) is False
    assert storage.access.get_access_key("dyk_none") is None  # no item made by the attempt


def test_a_use_is_stamped_at_most_once_per_window(storage):
    record = key(storage)
    storage.access.touch_access_key(record.id, 2000, older_than=1000)
    storage.access.touch_access_key(record.id, 2500, older_than=1500)  # stamped at 2000: too recent
    assert storage.access.get_access_key(record.id).last_used == 2000
    storage.access.touch_access_key(record.id, 4000, older_than=3000)
    assert storage.access.get_access_key(record.id).last_used == 4000
    storage.access.touch_access_key("dyk_none", 4000, older_than=3000)
    assert storage.access.get_access_key("dyk_none") is None


def test_anonymous_rules_are_replaced_whole(storage):
    assert storage.access.get_anonymous_rules() == []
    storage.access.put_anonymous_rules([("public/*", ["pull"]), ("demo", ["pull"])])
    storage.access.put_anonymous_rules([("public/*", ["pull"])])
    assert storage.access.get_anonymous_rules() == [("public/*", ["pull"])]
