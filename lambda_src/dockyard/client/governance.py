"""The governance commands, thin clients of the admin API (`dockyard.api.governance`).

    dockyard immutability set GLOB [--mutable-tags PATTERN]...
    dockyard immutability list | delete GLOB
    dockyard quota set GLOB --bytes SIZE | list | delete GLOB
    dockyard usage [--json] [--since 30d] [--egress in-region|internet|DOLLARS_PER_GB] [GLOB]
"""

from __future__ import annotations

import json
import math
import sys
import time
from urllib.parse import quote, urlencode

from dockyard.domain.sizes import human_size, parse_size


def add_parsers(sub, client_options) -> None:
    """The subcommands, each with `--registry` and admin credentials (`client_options`)."""
    immutability = sub.add_parser("immutability", help="tags that cannot be moved or deleted (admin)") \
        .add_subparsers(dest="action", required=True)
    set_ = immutability.add_parser("set", help="make the tags of the repositories GLOB matches immutable (or "
                                               "replace the rule for GLOB)")
    set_.add_argument("glob", help="repository glob, e.g. 'prod/*' (the most specific matching rule applies)")
    set_.add_argument("--mutable-tags", action="append", default=[], metavar="PATTERN",
                      help="tags that stay mutable, e.g. latest or 'dev-*'; repeatable")
    client_options(set_)
    client_options(immutability.add_parser("list", help="list the rules"))
    delete = immutability.add_parser("delete", help="remove the rule for GLOB")
    delete.add_argument("glob")
    client_options(delete)

    quota = sub.add_parser("quota", help="storage quotas per namespace (admin)").add_subparsers(dest="action",
                                                                                              required=True)
    set_ = quota.add_parser("set", help="at most SIZE bytes of blobs in the repositories GLOB matches (each blob "
                                        "counted once); waits until what they hold is counted")
    set_.add_argument("glob", help="repository glob, e.g. 'team/*' (every matching quota applies)")
    set_.add_argument("--bytes", required=True, metavar="SIZE", help="e.g. 50MiB, 20GiB, 500MB")
    client_options(set_)
    client_options(quota.add_parser("list", help="list quotas and their usage"))
    delete = quota.add_parser("delete", help="remove the quota for GLOB")
    delete.add_argument("glob")
    client_options(delete)

    usage_ = sub.add_parser("usage", help="what each repository stores, does and costs (admin)")
    usage_.add_argument("glob", nargs="?", default="*", help="repository glob (default: every repository)")
    usage_.add_argument("--since", default="30d", help="the window of activity, e.g. 30d, 7d (whole days)")
    usage_.add_argument("--egress", default="in-region",
                        help="egress rate: in-region (0), internet (list price) or dollars per GB")
    client_options(usage_)


def _printed_json(args, found: list[dict]) -> bool:
    """With --json, print what `list` found, or the one item `set` or `delete` answered; True if printed."""
    if args.json:
        print(json.dumps(found if args.action == "list" else found[0], indent=2))
    return args.json


def _path(glob: str) -> str:
    return quote(glob, safe="/*")


def immutability(args, call) -> int:
    if args.action == "set":
        rules = [call(args, "PUT", f"/immutability/{_path(args.glob)}", {"mutable_tags": args.mutable_tags})["rule"]]
    elif args.action == "delete":
        rules = [call(args, "DELETE", f"/immutability/{_path(args.glob)}")["rule"]]
    else:
        rules = call(args, "GET", "/immutability")["rules"]
    if _printed_json(args, rules):
        return 0
    for rule in rules:
        mutable = ", ".join(rule["mutable_tags"]) or "none"
        prefix = "removed " if args.action == "delete" else ""
        print(f"{prefix}{rule['pattern']}  immutable tags (mutable: {mutable})")
    if args.action == "list" and not rules:
        print("(no immutability rules)")
    return 0


def quota(args, call) -> int:
    if args.action == "set":
        try:
            body = {"bytes": parse_size(args.bytes)}
        except ValueError as exc:
            raise SystemExit(f"dockyard: {exc}") from None
        found = call(args, "PUT", f"/quotas/{_path(args.glob)}", body)["quota"]
        while found["state"] == "counting":  # what the namespace held before: counted in, a call at a time
            if not args.json:
                print(f"counting in what {args.glob} holds: {found['used_text']} so far", file=sys.stderr)
            time.sleep(max(1.0, min(15.0, (found["count_after"] or 0) - time.time())))
            found = call(args, "PUT", f"/quotas/{_path(args.glob)}", body)["quota"]
        found = [found]
    elif args.action == "delete":
        while not (answer := call(args, "DELETE", f"/quotas/{_path(args.glob)}"))["done"]:
            pass
        found = [answer["quota"]]
    else:
        found = call(args, "GET", "/quotas")["quotas"]
    if _printed_json(args, found):
        return 0
    for q in found:
        if args.action == "delete":
            print(f"removed the quota of {q['pattern']} ({q['limit_text']})")
        else:
            print(f"{q['pattern']}  {q['used_text']} of {q['limit_text']} used ({q['state']})")
    if args.action == "list" and not found:
        print("(no quotas)")
    return 0


def usage(args, call) -> int:
    from dockyard.client.maintenance import duration

    days = math.ceil(duration(args.since) / 86400)
    pages, last = [], None
    while True:
        query = {"glob": args.glob, "days": days, "egress": args.egress, **({"last": last} if last else {})}
        pages.append(call(args, "GET", f"/usage?{urlencode(query)}"))
        last = pages[-1]["next"]
        if not last:
            break
    report = {**pages[0], "repositories": [r for page in pages for r in page["repositories"]]}
    report.pop("next")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"activity since {report['since']} ({days} days), cost per 30 days with egress {args.egress} "
          f"(${report['model']['egress_usd_per_gb']}/GB)")
    print(f"{'REPOSITORY':32} {'UNIQUE':>9} {'SHARED':>9} {'MANIF':>5} {'TAGS':>5} {'PULLS':>7} {'PUSHES':>6} "
          f"{'SENT':>9} {'LAST PULL':>16} {'LAST PUSH':>16} {'$/MONTH':>9}")
    for r in report["repositories"]:
        stored, activity = r["stored"], r["activity"]
        print(f"{r['repository']:32} {human_size(stored['unique_bytes']):>9} {human_size(stored['shared_bytes']):>9} "
              f"{stored['manifests']:>5} {stored['tags']:>5} {activity['pulls']:>7} {activity['pushes']:>6} "
              f"{human_size(activity['download_bytes']):>9} {_when(r['last_pull']):>16} {_when(r['last_push']):>16} "
              f"{r['monthly_cost_usd']['total']:>9.4f}")
    if not report["repositories"]:
        print("(no repositories)")
    return 0


def _when(at: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) if at else "-"


COMMANDS = {"immutability": immutability, "quota": quota, "usage": usage}
