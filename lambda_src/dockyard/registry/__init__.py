"""The registry layer: what the HTTP routes call. It maps storage results to OCI errors, and depends only on
the storage contracts (`dockyard.storage.interfaces`), so any implementation of them can stand below it."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.auth.admin import AccessAdmin
from dockyard.auth.service import Auth
from dockyard.config import Settings
from dockyard.maintenance.runs import Runner
from dockyard.maintenance.service import Maintenance
from dockyard.registry.blobs import Blobs
from dockyard.registry.browse import Browse
from dockyard.registry.cache import LinkCache
from dockyard.registry.commit import Commit
from dockyard.registry.direct import DirectUploads
from dockyard.registry.immutability import Immutability
from dockyard.registry.lease import Leases
from dockyard.registry.manifests import Manifests
from dockyard.registry.meter import Meter
from dockyard.registry.quotas import Quotas
from dockyard.registry.usage import Usage
from dockyard.registry.pullthrough import PullThrough
from dockyard.registry.upstreams import Upstreams
from dockyard.registry.uploads import Uploads
from dockyard.storage.interfaces import Storage


@dataclass(frozen=True)
class Registry:
    settings: Settings
    storage: Storage
    blobs: Blobs
    uploads: Uploads
    direct: DirectUploads
    manifests: Manifests
    auth: Auth
    access: AccessAdmin
    upstreams: Upstreams
    immutability: Immutability
    maintenance: Maintenance
    browse: Browse
    meter: Meter
    usage: Usage
    quotas: Quotas

    def forget_caches(self) -> None:
        """Forget what this instance remembers of links, small blobs and manifests: it is then as an instance
        that has served nothing (what the benchmarks and the tests measure a cold pull on)."""
        self.blobs.links.clear()
        self.blobs.small.clear()
        self.manifests.seen.clear()


def assemble(settings: Settings, storage: Storage, auth: Auth) -> Registry:
    """The registry over `storage`: its pieces share one link cache, one commit and one lease keeper."""
    links = LinkCache(settings.link_cache_ttl)
    quotas = Quotas(storage.quotas, lambda n, last, visible: manifests.catalog(n, last, visible),
                    settings.quota_cache_ttl)
    commit = Commit(storage.blobs, storage.objects, links, quotas)
    leases = Leases(storage.uploads, settings.upload_lease)
    upstreams = Upstreams(storage.upstreams, storage.credentials)
    immutability = Immutability(storage.governance)
    meter = Meter(storage.governance, settings.meter_interval)
    cache = PullThrough(upstreams, storage.manifests, storage.blobs, storage.objects, storage.upstreams, commit, links,
                        settings)
    blobs = Blobs(storage.blobs, storage.objects, commit, settings, links, meter, cache,
                  lambda repo, digest: manifests.referencing(repo, digest))
    manifests = Manifests(storage.manifests, storage.objects, settings, commit, immutability, meter, cache,
                          blobs.prime)

    def forget(repo: str, digest) -> None:  # what a GC run here collected: out of this instance's caches
        links.drop(repo, digest)
        manifests.seen.drop(repo, digest)

    maintenance = Maintenance(storage, settings, Runner(storage, manifests.uses, forget), launcher(settings))
    usage = Usage(storage.governance, manifests.catalog, meter)
    return Registry(
        settings=settings,
        storage=storage,
        blobs=blobs,
        uploads=Uploads(storage.uploads, storage.objects, commit, leases, settings),
        direct=DirectUploads(storage.blobs, storage.uploads, storage.objects, commit, leases, settings),
        manifests=manifests,
        auth=auth,
        access=AccessAdmin(storage.access, auth.forget),
        upstreams=upstreams,
        immutability=immutability,
        maintenance=maintenance,
        browse=Browse(manifests, storage.manifests, storage.blobs, storage.objects, immutability, maintenance.rule_for,
                      usage.daily_pulls),
        meter=meter,
        usage=usage,
        quotas=quotas,
    )


def launcher(settings: Settings):
    """Where started GC runs go on: the GC function when the stack has one, else a thread here (None)."""
    if not settings.gc_function:
        return None
    from dockyard.maintenance.function import invoker

    return invoker(settings)
