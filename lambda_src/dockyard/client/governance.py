"""The governance commands, thin clients of the admin API (`dockyard.api.governance`).

    dockyard immutability set GLOB [--mutable-tags PATTERN]...
    dockyard immutability list | delete GLOB
"""

from __future__ import annotations

import json
from urllib.parse import quote


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


def _path(glob: str) -> str:
    return quote(glob, safe="/*")


def immutability(args, call) -> int:
    if args.action == "set":
        rules = [call(args, "PUT", f"/immutability/{_path(args.glob)}", {"mutable_tags": args.mutable_tags})["rule"]]
    elif args.action == "delete":
        rules = [call(args, "DELETE", f"/immutability/{_path(args.glob)}")["rule"]]
    else:
        rules = call(args, "GET", "/immutability")["rules"]
    if args.json:
        print(json.dumps(rules if args.action == "list" else rules[0], indent=2))
        return 0
    for rule in rules:
        mutable = ", ".join(rule["mutable_tags"]) or "none"
        prefix = "removed " if args.action == "delete" else ""
        print(f"{prefix}{rule['pattern']}  immutable tags (mutable: {mutable})")
    if args.action == "list" and not rules:
        print("(no immutability rules)")
    return 0


COMMANDS = {"immutability": immutability}
