"""Run every benchmark and write one Markdown report: benchmarks/results/latest.md.

    ./dev bench            (installs skopeo, docker-registry, wrk, hey and htpasswd with apt, the Python
                            packages, the CDK CLI)
    ./dev bench --quick    (smaller layers and fewer repeats, for a first look)

Each section is the output of one script in this folder, run in its own process; the command that made
it is printed above it, so that any figure can be traced back and rerun.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUDGETS = """## Budgets

| budget | where | result |
| --- | --- | --- |
| big push and big pull: Dockyard/distribution ≤ 1.0 | compare.py | see the ratio column |
| registry peak RSS ≤ 100 MiB while streaming the big push | compare.py, stream_rss.py | see the RSS columns |
| AWS calls per operation (manifest GET: 1 read; blob GET or HEAD: at most 1 read, 0 S3 calls; manifest PUT: one batched read, one transaction) | tests/api/test_costs.py pins them; calls_and_cost.py | AWS calls column |
| request rate, Dockyard/distribution: ≥ 1.0 for blob GET and HEAD, `/v2/`, token; ≥ 1.5 for manifest GET by tag | request_rate.py | ratio column |
| warm handler time excluding the AWS round trip: blob GET ≤ 0.3 ms, manifest GET and token ≤ 1 ms | handler_time.py | budget column |
| cold start ratio ≤ 1.1 | coldstart.py | ratio column |
| cost ≤ $5 per million docker first pulls at the default memory, whole model, excluding egress | calls_and_cost.py | totals |
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = args.quick
    plan = [
        ["compare.py", "--repeat", "1" if quick else "3"],
        ["request_rate.py", "--duration", "2" if quick else "3", "--repeat", "1" if quick else "3"],
        ["calls_and_cost.py"],
        ["handler_time.py"],
        ["pullthrough.py", "--repeat", "1" if quick else "3"],
        ["coldstart.py", "--repeat", "3" if quick else "7"],
        ["stream_rss.py", "--size-mib", "256" if quick else "1024"],
        ["direct_push.py", "--size-mib", "256" if quick else "1024"],
        ["resumable_hash.py", "--sizes-mib", "64", "256", "--repeat", "1" if quick else "3"],
        ["asset_size.py"],
        ["edge_signing.py", "--urls", "500" if quick else "2000"],
        ["edge_cost.py"],
        ["page_views.py", "--repeat", "10" if quick else "30"],
    ]
    sections = [f"# Dockyard benchmarks\n\nRun {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
                f"`./dev bench{' --quick' if quick else ''}`; every section below names its command.\n", BUDGETS]
    for command in plan:
        print(f"running {' '.join(command)}", file=sys.stderr, flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, *command], cwd=HERE, capture_output=True, text=True)
        output = result.stdout.strip() if result.returncode == 0 else \
            f"**failed** (exit {result.returncode}):\n\n```\n{result.stderr[-3000:]}\n```"
        sections.append(f"---\n\n`python benchmarks/{' '.join(command)}` ({time.monotonic() - started:.0f} s)\n\n"
                        + output.replace("\n# ", "\n## ").removeprefix("# ").join(["## ", ""]) + "\n")
        (HERE / "results" / f"{Path(command[0]).stem}.md").write_text(result.stdout)
    report = "\n".join(sections)
    (HERE / "results" / "latest.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
