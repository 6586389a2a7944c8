"""The usage meter: pulls counted in memory and written in batches, pushes at once, nothing lost on a failure."""

from __future__ import annotations

import calendar

from dockyard.registry.meter import KEEP_DAYS, MAX_BATCH, Meter
from dockyard.storage.types import UsageCounts

NOON = calendar.timegm((2026, 11, 30, 12, 0, 0))


class Store:
    def __init__(self):
        self.writes: list[tuple[str, str, UsageCounts, int]] = []
        self.fail = False

    def add_usage(self, repo, day, counts, expires_at):
        if self.fail:
            raise RuntimeError("backend down")
        self.writes.append((repo, day, counts, expires_at))


class Clock:
    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_pulls_are_written_in_one_batch_once_the_oldest_is_interval_old():
    store, clock = Store(), Clock(NOON)
    meter = Meter(store, 60, clock)
    meter.pulled("team/app")
    meter.downloaded("team/app", 1000, served=False)
    clock.at += 30
    meter.pulled("team/app")
    meter.downloaded("team/app", 500, served=False)
    meter.downloaded("team/app", 70, served=True)
    meter.pulled("other/app")
    assert store.writes == []
    clock.at += 30
    meter.pulled("team/app")
    assert sorted(w[:3] for w in store.writes) == [
        ("other/app", "2026-11-30", UsageCounts(pulls=1, last_pull=NOON + 30)),
        ("team/app", "2026-11-30", UsageCounts(pulls=3, redirects=2, redirect_bytes=1500, served=1, served_bytes=70,
                                               last_pull=NOON + 60))]
    assert store.writes[0][3] == calendar.timegm((2026, 11, 30, 0, 0, 0)) + KEEP_DAYS * 86400
    meter.pulled("team/app")
    assert len(store.writes) == 2  # a new batch starts


def test_interval_zero_writes_every_pull_and_days_are_apart():
    store, clock = Store(), Clock(calendar.timegm((2026, 11, 30, 23, 59, 59)))
    meter = Meter(store, 0, clock)
    meter.downloaded("team/app", 10, served=False)
    clock.at += 2
    meter.pulled("team/app")
    assert [(w[1], w[2].pulls, w[2].redirects) for w in sorted(store.writes)] == [("2026-11-30", 0, 1),
                                                                              ("2026-12-01", 1, 0)]


def test_a_failed_batch_is_kept_and_written_with_the_next():
    store, clock = Store(), Clock(NOON)
    meter = Meter(store, 0, clock)
    store.fail = True
    meter.pulled("team/app")
    meter.pulled("team/app")
    store.fail = False
    meter.pulled("team/app")
    assert [w[2].pulls for w in store.writes] == [3]


def test_a_batch_writes_a_bounded_number_of_repositories_per_request():
    store, clock = Store(), Clock(NOON)
    meter = Meter(store, 60, clock)
    for i in range(MAX_BATCH + 3):
        meter.pulled(f"repo{i:02d}")
    clock.at += 60
    meter.pulled("repo00")
    assert len(store.writes) == MAX_BATCH
    meter.pulled("repo00")  # the rest are still due, and go with it
    assert len(store.writes) == MAX_BATCH + 4
    assert {w[0] for w in store.writes} == {f"repo{i:02d}" for i in range(MAX_BATCH + 3)}


def test_a_push_is_written_at_once_and_a_failed_one_joins_the_batch():
    store, clock = Store(), Clock(NOON)
    meter = Meter(store, 60, clock)
    meter.pushed("team/app")
    assert store.writes[0][2] == UsageCounts(pushes=1, last_push=NOON)
    store.fail = True
    meter.pushed("team/app")  # does not raise
    store.fail = False
    clock.at += 60
    meter.pulled("team/app")
    assert store.writes[1][2] == UsageCounts(pulls=1, pushes=1, last_pull=NOON + 60, last_push=NOON)


def test_a_batch_refused_on_the_event_loop_keeps_every_count_and_waits_for_a_request_that_may_block():
    import asyncio

    from dockyard.blocking import WouldBlock, without_blocking

    class Refusing:
        def __init__(self):
            self.written = []

        def add_usage(self, repo, day, counts, expires):
            from dockyard.blocking import may_block

            if not may_block():
                raise WouldBlock
            self.written.append((repo, counts.pulls))

    store = Refusing()
    meter = Meter(store, 0)
    asyncio.run(without_blocking(meter.pulled, "team/app"))  # on the event loop: counted, not written
    assert store.written == []
    meter._pending[("team/other", "2026-12-01")] = meter._pending.get(("team/other", "2026-12-01"), UsageCounts()) \
        + UsageCounts(pulls=2)
    from dockyard.blocking import _ON_EVENT_LOOP

    token = _ON_EVENT_LOOP.set(True)  # a batch that meets a refusal halfway keeps what it did not write
    try:
        meter.flush()
    except WouldBlock:
        pass
    finally:
        _ON_EVENT_LOOP.reset(token)
    meter.pulled("team/app")  # a request that may block writes all of it
    assert sorted(store.written) == [("team/app", 2), ("team/other", 2)]
