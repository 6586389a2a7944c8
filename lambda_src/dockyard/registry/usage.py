"""What each repository stores, does and costs (`dockyard usage`): a page of repositories at a time.

Per repository: blob bytes unique to it and shared with other repositories (from the blob records' link
counts), manifests, tags, its pulls (manifest GETs), blob downloads (redirects to S3, and small blobs an
instance served from memory) and their bytes, and pushes (manifest PUTs) per day since a date, its last pull and push, and an estimated monthly cost (`dockyard.pricing`).

A page costs, per repository, one walk of its items and one batched read of its blobs' records.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

from dockyard import pricing
from dockyard.domain.names import is_repository_glob
from dockyard.errors import Err, RegistryError
from dockyard.registry.meter import DAY, KEEP_DAYS, Meter, day_of
from dockyard.storage.interfaces import GovernanceStore
from dockyard.storage.types import StoredRepository, UsageCounts

PAGE = 50


class Usage:
    def __init__(self, store: GovernanceStore, catalog, meter: Meter, clock=time.time):
        """`catalog(n, last, visible)` pages through repository names (`Manifests.catalog`); what `meter`
        (this instance's) holds is written before a report reads the table."""
        self.store, self.catalog, self.meter, self.clock = store, catalog, meter, clock

    def report(self, glob: str = "*", days: int = 30, egress: str = "in-region", n: int | None = None,
               last: str | None = None) -> dict:
        if not is_repository_glob(glob):
            raise RegistryError(Err.INVALID_PARAMETER, f"invalid repository glob {glob[:300]!r}")
        if not 1 <= days <= KEEP_DAYS:
            raise RegistryError(Err.INVALID_PARAMETER, f"days must be 1 to {KEEP_DAYS}")
        try:
            rate = pricing.egress_rate(egress)
        except ValueError as exc:
            raise RegistryError(Err.INVALID_PARAMETER, str(exc)) from None
        self.meter.flush(most=None)
        page = self.catalog(min(n or PAGE, PAGE), last, lambda name: fnmatchcase(name, glob))
        since = day_of(self.clock() - (days - 1) * DAY)
        return {"since": since, "days": days, "egress": egress, "model": pricing.model(rate),
                "repositories": [self._repository(name, since, days, rate) for name in page.items],
                "next": page.last}

    def daily_pulls(self, repo: str, days: int = 30) -> list[tuple[str, int]]:
        """Pulls of `repo` on each of the last `days` days, oldest first (one query; what instances counted
        and have not written yet, at most a batch interval's, is not in it)."""
        counts = self.store.list_usage(repo)
        now = self.clock()
        return [(day, counts[day].pulls if day in counts else 0)
                for day in (day_of(now - back * DAY) for back in range(days - 1, -1, -1))]

    def _repository(self, name: str, since: str, days: int, rate: float) -> dict:
        stored = self.store.stored(name)
        links = self.store.blob_links(list(stored.blobs)) if stored.blobs else {}
        unique = sum(size for digest, size in stored.blobs.items() if links.get(digest, 1) <= 1)
        shared = sum(size for digest, size in stored.blobs.items() if links.get(digest, 1) > 1)
        share = sum(size / max(1, links.get(digest, 1)) for digest, size in stored.blobs.items())
        window = {day: counts for day, counts in stored.usage.items() if day >= since}
        total = sum(window.values(), UsageCounts())
        ever = sum(stored.usage.values(), UsageCounts())
        scale = pricing.DAYS_PER_MONTH / days
        cost = pricing.monthly(s3_bytes=share, item_bytes=stored.item_bytes, pulls=total.pulls * scale,
                               redirects=total.redirects * scale, redirect_bytes=total.redirect_bytes * scale,
                               served=total.served * scale, served_bytes=total.served_bytes * scale,
                               pushes=total.pushes * scale, egress=rate)
        return {"repository": name, "stored": _stored(stored, unique, shared),
                "activity": {**_activity(total), "per_day": _per_day(window)},
                "last_pull": ever.last_pull or None, "last_push": ever.last_push or None,
                "monthly_cost_usd": {k: round(v, 6) for k, v in cost.items()}}


def _stored(stored: StoredRepository, unique: int, shared: int) -> dict:
    return {"blobs": len(stored.blobs), "unique_bytes": unique, "shared_bytes": shared,
            "blob_bytes": unique + shared, "manifests": stored.manifests, "manifest_bytes": stored.manifest_bytes,
            "tags": stored.tags, "table_bytes": stored.item_bytes}


def _per_day(window: dict[str, UsageCounts]) -> list[dict]:
    return [{"day": day, **_activity(c)} for day, c in sorted(window.items())]


def _activity(c: UsageCounts) -> dict:
    """A window's or a day's activity; `downloads` and `download_bytes` are blob GETs of both kinds."""
    return {"pulls": c.pulls, "pushes": c.pushes, "downloads": c.redirects + c.served,
            "download_bytes": c.redirect_bytes + c.served_bytes, "redirects": c.redirects,
            "redirect_bytes": c.redirect_bytes, "served": c.served, "served_bytes": c.served_bytes}
