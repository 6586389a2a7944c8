"""The read model of the web page: repositories, their tags, an image, and what a delete would remove.

Every view costs a bounded number of reads, whatever the registry holds (the figures are pinned in
`tests/ui/test_ui_costs.py`):
- the repository list: one catalog query per 1,000 names scanned (a search scans at most
  `SEARCH_PAGES` pages, then offers to go on), plus, per repository shown, one query of its tags and one of
  its blob links, run side by side;
- a repository: its tags (one query per MB of tag items, at most `MAX_SORTED` tags read to sort them by
  push time), one query of the immutability rules, one batched read of the page's config links and one of
  the page's platform manifests, and one S3 read per single-platform image config on the page (none for a
  config its tag's pull hints carry: then, with none to read, no batched link read either); a tag filter
  past `MAX_SORTED` tags scans at most `SEARCH_PAGES` pages of tags without bodies; one query of its pulls
  per day; for an admin, one query of the retention rules more;
- an image: the manifest (one read), its config (nothing if its pull hints carry it, else one link read and
  one S3 read), its tags (one read), its platform manifests (one batched read of at most `MAX_CHILD_SIZES`),
  the immutability rules if it is tagged (one query) and its referrers (one query per node of the tree, at
  most `MAX_REFERRERS` nodes);
- a delete's confirmation: the manifest, its tags, the rules (one query), its referrers if by digest.
Viewing is not pulling: no pull is stamped and nothing is fetched from an upstream.
Fields that other parts of the registry record (push and pull times) are shown where they exist.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from dockyard.domain.digest import Digest
from dockyard.domain.imageconfig import ImageConfig, parse_body, parse_config
from dockyard.domain.names import is_tag, parse_reference, validate_name
from dockyard.errors import Err, RegistryError
from dockyard.registry.hints import config_of
from dockyard.registry.immutability import Immutability
from dockyard.registry.manifests import Manifests
from dockyard.storage.interfaces import BlobIndex, ByteReader, ManifestIndex
from dockyard.registry.views import Deletion, ImageView, ReferrerNode, RepositoryPage, RepositoryRow, TagPage, TagRow
from dockyard.storage.types import ManifestRecord, TagDetail

PAGE = 20  # repositories per page
TAG_PAGE = 25  # tags per page
CATALOG_PAGE = 1000  # catalog names read per query
SEARCH_PAGES = 5  # catalog queries one search makes before it offers to go on
SUMMARY_TAGS = 1000  # tags counted per repository in the list ("1000+" beyond)
SUMMARY_LINKS = 5000  # blob links summed per repository in the list
MAX_SORTED = 1000  # tags read to sort a repository by push time; beyond, it is shown by name
MAX_CONFIG = 1024 * 1024  # bytes of an image config read
MAX_REFERRERS = 100  # nodes of a referrer tree
MAX_ROWS = 500  # layers or platform manifests of one manifest shown (the answer stays far below 6 MB)
MAX_CHILD_SIZES = 100  # platform manifests whose sizes a page reads (one batched read)
REFERRER_DEPTH = 4
REFERRER_BYTES = 512 * 1024  # of descriptors (annotations included) one referrer query reads
WORKERS = 8  # reads made side by side


class Browse:
    def __init__(self, manifests: Manifests, index: ManifestIndex, blobs: BlobIndex, objects: ByteReader,
                 immutability: Immutability, retention_rule=lambda repo: None, daily_pulls=lambda repo: None):
        """`retention_rule(repo)`: the retention rule that applies to a repository, or None; `daily_pulls(repo)`:
        its pulls per day (one query each)."""
        self.manifests, self.index, self.blobs, self.objects = manifests, index, blobs, objects
        self.immutability, self.retention_rule, self.daily_pulls = immutability, retention_rule, daily_pulls

    # --- repositories ------------------------------------------------------------------------------

    def repositories(self, visible, query: str = "", after: str | None = None) -> RepositoryPage:
        """A page of the repositories `visible` accepts whose name contains `query`, after `after`."""
        limit = PAGE
        if after:
            validate_name(after)
        query = query.strip().lower()
        names: list[str] = []
        last, scanned = after, 0
        while len(names) <= limit and scanned < SEARCH_PAGES:
            page = self.index.list_repositories(CATALOG_PAGE, last)
            scanned += 1
            for name in page.items:
                if (not query or query in name) and visible(name):
                    names.append(name)
            last = page.last
            if last is None:
                break
        more = len(names) > limit
        names = names[:limit]
        searched_to = last if not more and last is not None else None
        after_name = names[-1] if more else searched_to
        with ThreadPoolExecutor(WORKERS) as pool:
            rows = list(pool.map(self._summary, names))
        return RepositoryPage(rows, after_name, searched_to)

    def _summary(self, repo: str) -> RepositoryRow:
        tags = self.index.list_tag_details(repo, SUMMARY_TAGS, None, bodies=False)
        links = self.blobs.link_totals(repo, SUMMARY_LINKS)
        return RepositoryRow(repo, len(tags.items), tags.last is None, links.size, links.complete,
                             _latest(t.pushed_at for t in tags.items), _latest(t.last_pulled for t in tags.items))

    # --- a repository's tags -----------------------------------------------------------------------

    def tags(self, repo: str, page: int = 1, after: str | None = None, query: str = "",
             retention: bool = False) -> TagPage:
        """Tags newest first (by push time, where recorded), or by name past `MAX_SORTED` tags; with a
        `query`, only those whose name contains it; with `retention` (for admins), the retention rule that
        applies to the repository (one query more)."""
        listing = replace(self._tags(repo, page, after, query), pulls=self.daily_pulls(repo))
        return replace(listing, retention=self.retention_rule(repo)) if retention else listing

    def _tags(self, repo: str, page: int, after: str | None, query: str) -> TagPage:
        validate_name(repo)
        if after is not None and not is_tag(after):
            raise RegistryError(Err.INVALID_PARAMETER, "after must be a tag")
        query = query.strip()
        if after is None:
            listing = self.index.list_tag_details(repo, MAX_SORTED, None)
            if not listing.items and not self.index.repository_exists(repo):
                raise RegistryError(Err.NAME_UNKNOWN, f"repository {repo} is not known")
            if listing.last is None:
                details = sorted((t for t in listing.items if query in t.tag),
                                 key=lambda t: (-(t.pushed_at or 0), t.tag))
                pages = max(1, -(-len(details) // TAG_PAGE))
                page = min(max(page, 1), pages)
                shown = details[(page - 1) * TAG_PAGE:page * TAG_PAGE]
                order = "pushed" if any(t.pushed_at for t in listing.items) else "name"
                return TagPage(repo, self._rows(repo, shown), order, page, pages, None, len(details), query)
        if query:
            return self._search_tags(repo, query, after)
        listing = self.index.list_tag_details(repo, TAG_PAGE, after)
        return TagPage(repo, self._rows(repo, listing.items), "name", 0, None, listing.last, None)

    def _search_tags(self, repo: str, query: str, after: str | None) -> TagPage:
        """Tags containing `query`, by name, scanning at most `SEARCH_PAGES` pages of tags without their
        bodies, then reading the bodies of the page's matches in one batch."""
        found: list[TagDetail] = []
        last, scanned = after, 0
        while len(found) <= TAG_PAGE and scanned < SEARCH_PAGES:
            listing = self.index.list_tag_details(repo, CATALOG_PAGE, last, bodies=False)
            scanned += 1
            found += [t for t in listing.items if query in t.tag]
            last = listing.last
            if last is None:
                break
        more = len(found) > TAG_PAGE
        found = found[:TAG_PAGE]
        records = self.index.get_manifests(repo, [t.manifest.digest for t in found]) if found else {}
        found = [replace(t, manifest=records.get(t.manifest.digest, t.manifest)) for t in found]
        searched_to = last if not more and last is not None else None
        return TagPage(repo, self._rows(repo, found), "name", 0, None, found[-1].tag if more else searched_to, None,
                       query, searched_to)

    def _rows(self, repo: str, details: list[TagDetail]) -> list[TagRow]:
        with ThreadPoolExecutor(WORKERS) as pool:  # bodies kept in S3 are read side by side
            bodies = list(pool.map(lambda d: self._body(d.manifest), details))
        parsed = {d.tag: parse_body(body, d.manifest.media_type) for d, body in zip(details, bodies)}
        configs = self._configs(repo, [p.config.digest for p in parsed.values() if p.kind == "image"],
                                [d.manifest for d in details])
        children = self._child_sizes(repo, [c.digest for p in parsed.values() for c in p.children])
        immutable = self._immutable(repo, [d.tag for d in details])
        rows = []
        for detail in details:
            p, record = parsed[detail.tag], detail.manifest
            if p.kind == "index":
                platforms = [c.platform for c in p.children if c.platform and c.platform != "unknown/unknown"]
                sizes = [children[c.digest] for c in p.children if c.digest in children]
                size = max(sizes) if sizes else None
            else:
                config = configs.get(p.config.digest) if p.config else None
                platforms = [config.platform] if config and config.platform else []
                size = p.image_size
            rows.append(TagRow(detail.tag, str(record.digest), record.media_type, p.kind, size, platforms,
                               detail.pushed_at, detail.last_pulled, p.artifact_type, immutable.get(detail.tag)))
        return rows

    # --- an image -----------------------------------------------------------------------------------

    def image(self, repo: str, reference: str) -> ImageView:
        validate_name(repo)
        record = self.manifests.get(repo, reference, pull=False)
        parsed = parse_body(record.body, record.media_type)
        config = None
        if parsed.kind == "image" and parsed.config:
            config = self._configs(repo, [parsed.config.digest], [record]).get(parsed.config.digest)
        sizes = self._child_sizes(repo, [c.digest for c in parsed.children])
        state = self.index.manifest_tags(repo, record.digest)
        referrers, complete = self.referrer_tree(repo, record.digest)
        tags = state.tags if state else []
        return ImageView(repo, reference, record, parsed, config, [(c, sizes.get(c.digest)) for c in parsed.children],
                         tags, referrers, complete, self._immutable(repo, tags))

    def referrer_tree(self, repo: str, digest: Digest) -> tuple[list[ReferrerNode], bool]:
        """The manifests whose subject is `digest`, and theirs in turn (signatures of an SBOM), breadth first."""
        roots: list[ReferrerNode] = []
        frontier = [(digest, roots, 1)]
        count = 0
        while frontier:
            subject, into, depth = frontier.pop(0)
            if count >= MAX_REFERRERS:
                return roots, False
            page = self.index.list_referrers(repo, subject, MAX_REFERRERS - count, None, None, REFERRER_BYTES)
            for descriptor in page.items:
                node = ReferrerNode(str(descriptor.digest), descriptor.media_type, descriptor.artifact_type,
                                    descriptor.size, descriptor.annotations)
                into.append(node)
                count += 1
                if depth < REFERRER_DEPTH:
                    frontier.append((descriptor.digest, node.children, depth + 1))
            if page.last is not None:
                return roots, False
        return roots, True

    # --- deletion -----------------------------------------------------------------------------------

    def deletion(self, repo: str, reference: str) -> Deletion:
        """What `DELETE /v2/<repo>/manifests/<reference>` would remove (read consistently)."""
        validate_name(repo)
        ref = parse_reference(reference)
        record = self.manifests.get(repo, reference, pull=False)
        state = self.index.manifest_tags(repo, record.digest)
        tags = state.tags if state else []
        parsed = parse_body(record.body, record.media_type)
        going = tags if isinstance(ref, Digest) else [ref]
        refused = self._immutable(repo, going)
        immutable = min(refused.items()) if refused else None
        if isinstance(ref, Digest):
            referrers, _ = self.referrer_tree(repo, record.digest)
            return Deletion(repo, reference, str(record.digest), False, tags, [], [n.digest for n in referrers],
                            len(parsed.children), immutable)
        return Deletion(repo, reference, str(record.digest), True, [ref], [t for t in tags if t != ref], [], 0,
                        immutable)

    # --- reads shared by the views --------------------------------------------------------------------

    def _immutable(self, repo: str, tags: list[str]) -> dict[str, str]:
        """The immutable ones among `tags`, with the glob of the rule that keeps each (one query; none for no
        tags)."""
        if not tags:
            return {}
        rule_of = self.immutability.covering(repo)
        return {tag: rule for tag in tags if (rule := rule_of(tag))}

    def _body(self, record: ManifestRecord) -> bytes | None:
        return record.body if record.body is not None else self.objects.read_blob(record.body_location)

    def _configs(self, repo: str, digests: list[str], records: list[ManifestRecord]) -> dict[str, ImageConfig]:
        """Image configs by digest: those the pull hints of `records` carry (`registry.hints`) for nothing,
        the others with one batched link read, then their bytes side by side."""
        carried = dict(c for r in records if r.hints is not None and (c := config_of(r.hints)) is not None)
        known = {str(d): parse_config(data) for d, data in carried.items() if str(d) in digests}
        wanted = [Digest.parse(d) for d in dict.fromkeys(digests) if d and d not in known]
        found = self._read_configs(repo, wanted) if wanted else {}
        return {digest: config for digest, config in {**known, **found}.items() if config is not None}

    def _read_configs(self, repo: str, wanted: list[Digest]) -> dict[str, ImageConfig | None]:
        """Configs read from S3: one batched link read, then their bytes side by side (None: unreadable)."""
        links = self.blobs.get_links(repo, wanted)

        def read(item):
            digest, ref = item
            data = bytearray()
            for chunk in self.objects.iter_blob(ref.location):
                data += chunk
                if len(data) > MAX_CONFIG:
                    return str(digest), None
            return str(digest), parse_config(bytes(data))

        with ThreadPoolExecutor(WORKERS) as pool:
            return dict(pool.map(read, [(d, r) for d, r in links.items() if r.size <= MAX_CONFIG]))

    def _child_sizes(self, repo: str, digests: list[str]) -> dict[str, int]:
        """Pull sizes of the first `MAX_CHILD_SIZES` platform manifests indexes list (one batched read)."""
        wanted = [Digest.parse(d) for d in dict.fromkeys(digests)][:MAX_CHILD_SIZES]
        if not wanted:
            return {}
        records = self.index.get_manifests(repo, wanted)
        return {str(digest): parse_body(self._body(record), record.media_type).image_size
                for digest, record in records.items()}


def _latest(values) -> int | None:
    present = [v for v in values if v]
    return max(present) if present else None
