"""Size of the Lambda asset that `cdk synth` bundles (unzipped and zipped), and what takes the space.

    python benchmarks/asset_size.py        (runs the pinned CDK CLI: ./dev setup first)
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from common import ROOT, environment


WEB_DISTRIBUTIONS = ("jinja2", "markupsafe")
# The web page's read model, outside dockyard/ui.
WEB_MODULES = (("dockyard", "registry", "browse.py"), ("dockyard", "registry", "views.py"),
               ("dockyard", "domain", "imageconfig.py"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cdk.out"
        env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "true", "CDK_DISABLE_CLI_TELEMETRY": "true",
               "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        subprocess.run([str(ROOT / "node_modules/.bin/cdk"), "synth", "--no-notices", "--quiet", "--output",
                        str(out)], cwd=ROOT, env=env, check=True, capture_output=True)
        template = json.loads((out / "Dockyard.template.json").read_text())
        function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
        asset = out / function["Metadata"]["aws:asset:path"]
        files = [p for p in asset.rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        archive = Path(tmp) / "asset.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, p.relative_to(asset))
        zipped = archive.stat().st_size
        top: dict[str, int] = {}
        for p in files:
            name = p.relative_to(asset).parts[0]
            top[name] = top.get(name, 0) + p.stat().st_size
        # What the web page adds: its package (templates and static files included) and the template engine.
        web = [p for p in files if p.relative_to(asset).parts[:2] == ("dockyard", "ui")
               or p.relative_to(asset).parts in WEB_MODULES
               or p.relative_to(asset).parts[0].lower().startswith(WEB_DISTRIBUTIONS)]
        web_zip = Path(tmp) / "web.zip"
        with zipfile.ZipFile(web_zip, "w", zipfile.ZIP_DEFLATED) as z:
            for p in web:
                z.write(p, p.relative_to(asset))
        web_unzipped, web_zipped = sum(p.stat().st_size for p in web), web_zip.stat().st_size
    print("# Lambda asset size\n")
    print(f"{environment()}; runtime {function['Properties']['Runtime']}, "
          f"{function['Properties']['Architectures'][0]}\n")
    print("| asset | unzipped | zipped (deflate) | files |")
    print("| --- | --- | --- | --- |")
    print(f"| registry function | {unzipped / 1e6:.1f} MB | {zipped / 1e6:.1f} MB | {len(files)} |")
    print(f"| of which the web page (dockyard/ui and its read model, jinja2, markupsafe) | {web_unzipped / 1e6:.2f} MB | "
          f"{web_zipped / 1e6:.2f} MB | {len(web)} |")
    print("\n| largest parts | unzipped |\n| --- | --- |")
    for name, size in sorted(top.items(), key=lambda kv: -kv[1])[:8]:
        print(f"| {name} | {size / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
