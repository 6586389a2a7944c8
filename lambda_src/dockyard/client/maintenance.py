"""The maintenance commands, thin clients of the admin API (`dockyard.api.maintenance`).

    dockyard gc [--dry-run] [--json] [--grace DURATION]
    dockyard retention set GLOB [--keep-last N] [--expire-after D] [--untagged-after D] [--unpulled-after D]
                                [--keep-tags PATTERN]... [--tags PATTERN]...
    dockyard retention list | delete GLOB | preview [--grace DURATION]
    dockyard manifests REPOSITORY            when each manifest was pushed and last pulled

Durations are a number and a unit (`30d`, `12h`, `90m`, `0s`); a bare number is days.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from dockyard.domain import durations
from dockyard.maintenance import ACTIONS

RETENTION_ACTIONS = ("delete_tag", "delete_manifest")


def duration(text: str, allow_zero: bool = False) -> int:
    """Seconds in `30d`, `12h`, `0s`... (`dockyard.domain.durations`); a bare number is days."""
    try:
        return durations.seconds(text, allow_zero)
    except ValueError as exc:
        raise SystemExit(f"dockyard: {exc}") from None


def add_parsers(sub, client_options) -> None:
    gc = sub.add_parser("gc", help="collect garbage now: what no manifest or rule keeps (admin)",
                        description="Run garbage collection (retention rules first) and print what it deleted.")
    gc.add_argument("--dry-run", action="store_true", help="delete nothing; print what a run would delete, and why")
    gc.add_argument("--grace", default=None, metavar="DURATION",
                    help="leave what became garbage more recently than this (default: the registry's, 24h)")
    client_options(gc)

    retention = sub.add_parser("retention", help="retention rules per repository glob (admin)").add_subparsers(
        dest="action", required=True)
    rule = retention.add_parser("set", help="set the rule of a repository glob (replacing its previous one)")
    rule.add_argument("glob", help="repositories it applies to, e.g. 'team/*' (the most specific glob wins)")
    rule.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N tags")
    rule.add_argument("--expire-after", metavar="D", help="expire tags pushed more than D (days) ago")
    rule.add_argument("--untagged-after", metavar="D", help="delete untagged manifests after D (days)")
    rule.add_argument("--unpulled-after", metavar="D", help="expire what was not pulled for D (days)")
    rule.add_argument("--keep-tags", action="append", default=[], metavar="PATTERN",
                      help="never expire tags matching this (e.g. latest, 'v*'); repeatable")
    rule.add_argument("--tags", action="append", default=[], metavar="PATTERN",
                      help="apply only to tags matching this (default: every tag); repeatable")
    client_options(rule)
    client_options(retention.add_parser("list", help="list the rules"))
    delete = retention.add_parser("delete", help="delete the rule of a glob")
    delete.add_argument("glob")
    client_options(delete)
    preview = retention.add_parser("preview", help="what the rules would delete now, and why (a dry run)")
    preview.add_argument("--grace", default=None, metavar="DURATION")
    client_options(preview)

    manifests = sub.add_parser("manifests", help="a repository's manifests: tags, pushed, last pulled (admin)")
    manifests.add_argument("repository")
    client_options(manifests)


def gc(args, call) -> int:
    run = _run(args, call, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"run": _summary(run), "deletions": run["entries"]}, indent=2))
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    for entry in run["entries"]:
        print(_line(entry, verb))
    print(("dry run: " if args.dry_run else "") + ", ".join(f"{k}={v}" for k, v in run["counts"].items()))
    return 0


def retention(args, call) -> int:
    path = f"/retention/{quote(args.glob, safe='/*')}" if args.action in ("set", "delete") else "/retention"
    if args.action == "set":
        body = {"keep_last": args.keep_last, "keep_tags": args.keep_tags, "tags": args.tags}
        for name in ("expire_after", "untagged_after", "unpulled_after"):
            if getattr(args, name) is not None:
                body[name] = duration(getattr(args, name))
        rule = call(args, "PUT", path, {k: v for k, v in body.items() if v is not None})["rule"]
        print(json.dumps(rule) if args.json else f"retention rule set: {_rule(rule)}")
    elif args.action == "list":
        rules = call(args, "GET", path)["rules"]
        print(json.dumps(rules) if args.json else "\n".join(_rule(r) for r in rules) or "(no retention rules)")
    elif args.action == "delete":
        call(args, "DELETE", path)
        print(json.dumps({"deleted": args.glob}) if args.json else f"retention rule deleted: {args.glob}")
    else:
        run = _run(args, call, dry_run=True)
        entries = [e for e in run["entries"] if e["action"] in RETENTION_ACTIONS]
        if args.json:
            print(json.dumps(entries, indent=2))
        else:
            for entry in entries:
                print(_line(entry, "would delete"))
            print(f"{len(entries)} deletions (and what they leave unreferenced: `dockyard gc --dry-run`)")
    return 0


def manifests(args, call) -> int:
    found, last = [], None
    while True:
        page = call(args, "GET", f"/repositories/{args.repository}/manifests" + (f"?last={last}" if last else ""))
        found += page["manifests"]
        last = found[-1]["digest"] if page["manifests"] and len(page["manifests"]) >= 1000 else None
        if last is None:
            break
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"{'DIGEST':<26}{'PUSHED':<22}{'LAST PULLED':<22}TAGS")
    for m in found:
        print(f"{m['digest'][:24]:<26}{_date(m['pushed_at']):<22}{_date(m['last_pulled']):<22}{' '.join(m['tags'])}")
    return 0


def _run(args, call, dry_run: bool) -> dict:
    """Start a run and follow it to its end (it goes on on the registry's side, whatever happens here)."""
    body = {"dry_run": dry_run}
    if args.grace is not None:
        body["grace"] = duration(args.grace, allow_zero=True)
    run = call(args, "POST", "/gc", body)["run"]
    pause = 0.2
    while run["state"] == "running":
        time.sleep(pause)
        pause = min(pause * 1.5, 5)
        run = call(args, "GET", f"/gc/runs/{run['id']}")["run"]
    if run["state"] != "done":
        raise SystemExit(f"dockyard: garbage collection run {run['id']} {run['state']}: {run.get('error')}")
    run["entries"] = [e for part in range(run["report_parts"])
                      for e in call(args, "GET", f"/gc/runs/{run['id']}/report?part={part}")["entries"]]
    return run


def _summary(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "entries"}


def _line(entry: dict, verb: str) -> str:
    name = entry.get("repository", "")
    if entry.get("tag"):
        name += f":{entry['tag']}"
    if entry.get("digest"):
        name += ("@" if name else "") + entry["digest"]
    size = f" ({entry['bytes']} bytes)" if entry.get("bytes") else ""
    what = ACTIONS.get(entry["action"], entry["action"])
    return f"{verb} {what} {name or entry.get('upload', '')}{size}: {entry['reason']}"


def _rule(rule: dict) -> str:
    parts = [f"{k}={rule[k]}" for k in ("keep_last", "expire_after", "untagged_after", "unpulled_after")
             if rule.get(k) is not None]
    parts += [f"{k}={','.join(rule[k])}" for k in ("tags", "keep_tags") if rule.get(k)]
    return f"{rule['pattern']}  {' '.join(parts)}"


def _date(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) if epoch else "-"


COMMANDS = {"gc": gc, "retention": retention, "manifests": manifests}
