"""Storage quotas per namespace (a repository glob such as `team/*`): at most so many bytes of blobs linked
in the repositories it matches, each blob counted once however many of them link it.

Every quota whose glob matches a repository applies to it (nested namespaces each keep their own budget).
A link that would take one over its limit is refused where it is made (the upload's completion, a mount, a
blob the pull-through cache fetches), with nothing written; usage goes down as links go (a DELETE, or garbage
collection of a link no manifest references). How the counts stay exact under concurrent pushes is in
`dockyard.storage.dynamo.quotas`.

Instances read the quotas again when what they read is `ttl` seconds old, right before they link. A new
quota therefore counts in the links that existed before it only after `ttl` plus a margin for a link's write
in flight (`count_after`): from then on every link is counted by the request that makes it, or by the
counting in, exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from fnmatch import fnmatchcase

from dockyard.domain.digest import Digest
from dockyard.domain.names import is_repository_glob
from dockyard.domain.sizes import human_size
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import QuotaStore
from dockyard.storage.types import Quota, QuotaExceeded

# At most this many quotas: a link's transaction writes up to 2 items per quota that applies, beside its own 3,
# within DynamoDB's 100 items per transaction.
MAX_QUOTAS = 40
IN_FLIGHT = 15  # the longest a link's write may take after its quotas were read (timeouts and retries)
MAX_LIMIT = 2 ** 60
# Work one admin request does before it answers (the caller asks again to continue).
BUDGET_SECONDS = 10
PAGE = 100
DONE = "*"  # a cursor's link part when its repository is counted in (digests never contain it)


def describe(quota: Quota) -> dict:
    state = "deleting" if quota.deleting else "counting" if quota.counting else "active"
    return {"pattern": quota.pattern, "limit": quota.limit, "used": quota.used, "state": state,
            "limit_text": human_size(quota.limit), "used_text": human_size(quota.used),
            "created_at": quota.created_at, "count_after": quota.count_after if quota.counting else None}


def refusal(exc: QuotaExceeded, repository: str, digest: Digest) -> RegistryError:
    return RegistryError(Err.QUOTA_EXCEEDED, {"namespace": exc.quota.pattern, "used": exc.quota.used,
                                              "limit": exc.quota.limit, "size": exc.size, "digest": str(digest),
                                              "repository": repository})


class Quotas:
    def __init__(self, store: QuotaStore, catalog, ttl: int, clock=time.time):
        """`catalog(n, last, visible)` pages through repository names (`Manifests.catalog`)."""
        self.store, self.catalog, self.ttl, self.clock = store, catalog, ttl, clock
        self._cached: tuple[float, list[Quota]] | None = None
        self._lock = threading.Lock()

    def applying(self, repository: str) -> tuple[Quota, ...]:
        """The quotas in force on `repository` (read again when what was read is `ttl` seconds old)."""
        return tuple(q for q in self._quotas() if not q.deleting and fnmatchcase(repository, q.pattern))

    def _quotas(self) -> list[Quota]:
        now = time.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
        quotas = self.store.list_quotas()
        with self._lock:
            self._cached = (now, quotas)
        return quotas

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    # --- admin --------------------------------------------------------------------------------------

    def list(self) -> list[dict]:
        return [describe(q) for q in self.store.list_quotas()]

    def set(self, pattern: str, limit: int) -> dict:
        """A new quota, or a new limit for one; then `count`: setting it again continues counting in."""
        if not is_repository_glob(pattern):
            raise RegistryError(Err.INVALID_PARAMETER, f"invalid repository glob {pattern[:300]!r} "
                                                       "(lowercase letters, digits, . _ - / and *)")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_LIMIT:
            raise RegistryError(Err.INVALID_PARAMETER, "bytes must be a positive whole number of bytes")
        current = self.store.get_quota(pattern)
        if current is not None and current.deleting:
            raise RegistryError(Err.UPLOAD_BUSY, f"the quota of {pattern} is being deleted; delete it again "
                                                 "to finish, then set it")
        now = int(self.clock())
        if current is None:
            if len(self.store.list_quotas()) >= MAX_QUOTAS:
                raise RegistryError(Err.INVALID_PARAMETER, f"at most {MAX_QUOTAS} storage quotas; delete one first")
            current = Quota(pattern, limit, uuid.uuid4().hex, created_at=now, counting=True,
                            count_after=now + self.ttl + IN_FLIGHT)
            self.store.create_quota(current)
        elif current.limit != limit:
            self.store.set_limit(current, limit)
        self.forget()
        return self.count(pattern)

    def count(self, pattern: str) -> dict:
        """Count in the links of the namespace that no request counted, for up to `BUDGET_SECONDS`; the
        answer says whether more is left (`state` "counting")."""
        quota = self._found(pattern)
        if not quota.counting or quota.deleting or self.clock() < quota.count_after:
            return describe(quota)
        deadline = time.monotonic() + BUDGET_SECONDS
        repo, _, last = (quota.cursor or "").partition("\0")  # in `repo` after link `last`, or after `repo`
        names = self._namespace(pattern, repo or None) if not repo or last == DONE else [repo]
        last = None if last == DONE else last
        while names:
            for name in names:
                last = self._count_repository(quota, name, last or None, deadline)
                if last or time.monotonic() >= deadline:  # out of time: continue there next time
                    self.store.save_cursor(quota, f"{name}\0{last or DONE}")
                    return describe(self.store.get_quota(pattern))
            names = self._namespace(pattern, names[-1])
        self.store.save_cursor(quota, None)
        return describe(self.store.get_quota(pattern))

    def _namespace(self, pattern: str, after: str | None) -> list[str]:
        return self.catalog(PAGE, after, lambda name: fnmatchcase(name, pattern)).items

    def _count_repository(self, quota: Quota, repo: str, last: str | None, deadline: float) -> str | None:
        """Count in a repository's links after digest `last`; the digest to continue after if time ran out."""
        while True:
            page = self.store.list_links(repo, PAGE, last)
            for digest, size, counted in page.items:
                if quota.id not in counted:
                    self.store.count_link(quota, repo, digest, size)
            if page.last is None:
                return None
            last = page.last
            if time.monotonic() >= deadline:
                return last

    def delete(self, pattern: str) -> dict:
        """Stop enforcing the quota at once, and remove its counts for up to `BUDGET_SECONDS` (`done` false:
        ask again)."""
        quota = self._found(pattern)
        if not quota.deleting:
            self.store.start_delete(quota)
            self.forget()
        deadline = time.monotonic() + BUDGET_SECONDS
        while time.monotonic() < deadline:
            if self.store.drop_counts(quota, PAGE):
                return {"quota": {**describe(quota), "state": "deleted"}, "done": True}
        return {"quota": {**describe(quota), "state": "deleting"}, "done": False}

    def _found(self, pattern: str) -> Quota:
        quota = self.store.get_quota(pattern)
        if quota is None:
            raise RegistryError(Err.NOT_FOUND, f"no quota for {pattern[:300]!r}")
        return quota


