"""Image maintenance: online garbage collection, retention rules, and what they rely on.

# Design

GC runs while pushes and pulls go on, with no window and no lock on the registry. Every invariant below is
held by DynamoDB conditions and transactions; time (the grace period) only adds a margin for clients, never
correctness.

## What references what (kept on the referenced item)
- **A link counts the manifests that use it.** A link (`repo#R / blob#D`) carries `refs`: how many manifests
  of R list D as their config or a layer (or keep their own body in it, see below). The manifest PUT that
  creates a manifest adds 1 to each of its links in the same transaction that creates the manifest item,
  each update conditioned on the link existing; the deletion of a manifest subtracts 1 in the transaction
  that deletes it. Creation is conditioned on the manifest being absent and deletion on its version, so each
  manifest is counted exactly once. Counters, not sets of digests: a base layer shared by 10,000 tags would
  not fit a set in a 400 KB item.
- **A manifest counts the indexes that list it** (`parents`), in the same way.
- **A blob record counts its links.** The record (`blob#D / blob`) carries `links`: how many repositories
  link D. Creating a link (condition: the link is absent) adds 1 to it in one transaction, conditioned on the
  record existing and not being doomed; removing a link subtracts 1 in the transaction that removes it.
- **Deletes are refused while referenced.** A link is deleted only with the condition `refs = 0`, a manifest
  only with `parents = 0`, a record's bytes only after it is doomed with `links = 0`. A user DELETE that
  meets one of these answers 409 `DENIED`, naming a manifest that still references the content.
- **Manifests above the 100-item transaction limit** add their references in batches first, under a
  `pending` entry that records how far they got (each batch conditioned on that progress); the manifest
  item is written last. Their deletion writes a debt entry in the transaction that deletes the manifest
  item, and pays it back in batches the same way. Counts are only ever too high in between, which never
  allows a deletion; GC finishes (or undoes) what a crashed request left.
- **Large manifest bodies are blobs.** A body above the inline limit is stored as a blob linked into the
  repository (so it is counted and collected like any blob), and the manifest references its own link.

## Invariants
1. A tag, and a manifest an index or referrer list names, resolves to a manifest item: tags move and go
   only in transactions with their manifest (see `storage.dynamo.manifests`), and a manifest that an index
   lists cannot be deleted (`parents > 0`).
2. Every blob a stored manifest references is linked in its repository: the manifest's creation checked
   each link in its transaction, and a link with `refs > 0` cannot be deleted.
3. Every link's record exists and is not doomed, at the link's location: a link is created only against a
   live record, and a record is doomed only with `links = 0`; while doomed, no link can be created.
4. A record that is not doomed has its bytes in S3: bytes are deleted only after their record was doomed,
   and every object key is fresh (written by one upload, never reused), so an upload that finds a doomed
   record stores and records its own copy at a new key, which GC's deletion never targets.
5. GC deletes an object that no record points at only when no record ever can: dropped upload bytes (a
   duplicate that lost to the registry's copy, a mismatch, a cancel) are deleted once their session is gone
   and the record of their digest points elsewhere.
Together: a tag that resolves always pulls, whatever runs at the same time. What a race can do is make a push
fail (a manifest PUT whose layer was collected between the client's HEAD and its PUT gets
`MANIFEST_BLOB_UNKNOWN`, and pushes again); the grace period makes that need a link that has been unused for
longer than the grace already.

## Finding garbage (cost grows with garbage, not with the registry)
Every change that can create garbage stamps the item concerned with `gc_at` (and a fixed `gc_shard`, one hex
digit of its key's hash) in the same write: a new link, a link whose `refs` went down (it may be 0 now), a
record whose `links` went down, bytes an upload gave up (a `drop` item), an upload session (stamped with its
expiry), and the batched entries above. The sparse index `gc` on (`gc_shard`, `gc_at`) holds only those
items: it is the queue. GC queries each of the 16 shards for items stamped before now minus the grace, and for
each one checks the item itself: an item in use again leaves the queue (its stamp removed, conditioned on
the stamp it read, so that a newer event keeps it queued), garbage is collected. So a registry with no churn
costs 16 queries, a rule read and the run's own items per run, whatever its size.

The steps of a collection, each one conditional:
- **Link** (`refs = 0`, untouched for the grace): delete it, subtract 1 from its record, queue the record,
  and count it out of the storage quotas that counted it (`dockyard.storage.dynamo.quotas`), all in one
  transaction conditioned on the quotas it read.
- **Record** (`links = 0`, untouched for the grace): mark it doomed, delete the object at its location, then
  delete the record on condition it is still doomed with the same stamp (an upload that rescued it with a
  new copy meanwhile keeps it).
- **Dropped bytes**: delete the object if its session is gone and its record points elsewhere.
- **Upload leftovers**: multipart uploads and tails whose session expired longer than the grace ago: the
  session item is deleted first (conditioned on its expiry and a free lease, so no request can commit it any
  more), then its parts and tails. Session items alone expire by the table's TTL, objects never verified
  by a lifecycle rule (both are backstops that cost no request).

## Retention
Rules per repository glob (the most specific glob matching a repository applies): keep the newest N tags,
expire tags pushed more than D days ago, untagged manifests after D days, what was not pulled for D days;
`tags` patterns choose the tags a rule applies to, `keep_tags` patterns protect tags, and so do immutability
rules (`dockyard.registry.immutability`: an immutable tag is never in scope). A tag in scope expires
when any of its conditions say so. A manifest goes when all its tags expired, or it is untagged and
expired, except what is always kept: the manifests a kept index lists and the referrers of every kept
manifest (recursively). What goes with it: the manifests only deleted indexes listed, and referrers whose
subject is gone (absent for longer than the grace, or deleted in this run). Deletions are conditioned on what
was evaluated (the manifest's tag version, the tag's digest and push time), so a concurrent push keeps what
it touched. A run lists each deletion and its reason; a dry run predicts the same list.

## Runs
A run works in two phases, retention (a page of the catalog at a time) and the queue (a page of a shard at a
time: links, records, given-up bytes, expired sessions, batched entries), within a time budget. It saves its
phase and cursor in its run record every 10 seconds and at the budget, where it stops; the next invocation
continues from there (a step done twice is harmless: each is conditional). One real run at a time (a lease
on `gc / lock`, renewed at each save); dry runs only read. Each deletion writes an audit line
(`dockyard.audit`, event `gc.<action>`).
"""

# What each action of a run's report deletes, as the CLI and the web page name it.
ACTIONS = {"delete_tag": "tag", "delete_manifest": "manifest", "unlink": "link", "delete_blob": "blob",
           "delete_dropped": "upload leftover", "delete_upload": "upload", "undo_pending": "pending push"}
