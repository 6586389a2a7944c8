"""The function's bundle, reproducibly and offline: the locked wheels, our package, and the asset hash.

- `lambda_src/requirements.lock` pins every distribution the function runs, with hashes (made from
  `requirements.in` by `./dev lock`, for CPython 3.13 on manylinux2014 aarch64). boto3 is pinned and bundled
  too: the function runs the boto3 the tests run, not whatever the Lambda runtime ships that month.
- `prime()` downloads those wheels once into a local cache (the only step that needs the network;
  `./dev setup` runs it). `install()` builds the bundle from that cache alone (`--no-index`), checking every
  hash, so `cdk synth` works offline.
- `asset_hash()` derives the asset's S3 key from the lock, the bundled source and these bundling
  parameters: a new release of a dependency can never ship under an old key.
- The bundle carries byte code compiled by a CPython of the runtime's version (`bundle_python()`): Lambda's
  file system is read-only, so without it every cold start compiles every module it imports from source
  (about 0.7 s of CPU before the first request; `benchmarks/coldstart.py` measures both).

Nothing here imports the CDK: `python -m infra.wheels prime` runs in a second.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from dockyard.resources import AWS_SERVICES

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
LOCK = LAMBDA_SRC / "requirements.lock"
PYTHON_VERSION = "3.13"
PLATFORM = "manylinux2014_aarch64"
TARGET = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
          "--platform", PLATFORM]
# Parts of our package that never run in Lambda: the embedded moto backend, and the client commands.
NOT_BUNDLED = ("local", "client")
# Files of the installed wheels that the function never reads: tests, install records, byte code of another
# interpreter (the bundle's own is compiled afterwards), and `bin/` scripts, whose first line names the
# interpreter of the machine that built the bundle.
PRUNE = ("__pycache__", "*.pyc", "tests", "*.dist-info/RECORD")
PRUNE_TOP = ("bin",)
# Bump when the way a bundle is made changes without a change in the lock or the source.
BUNDLE_FORMAT = "3"
# Where Lambda unpacks the bundle: the source paths the byte code names (tracebacks show them).
RUNTIME_ROOT = "/var/task"


def cache_dir() -> Path:
    """Where the locked wheels are kept: `DOCKYARD_WHEEL_CACHE`, else `.cache/wheels` in the checkout."""
    base = os.environ.get("DOCKYARD_WHEEL_CACHE") or ROOT / ".cache" / "wheels"
    return Path(base) / f"cp{PYTHON_VERSION.replace('.', '')}-{PLATFORM}"


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def prime(cache: Path | None = None) -> Path:
    """Download every locked wheel (hash-checked) into the cache; a no-op when they are all there."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    result = pip("download", "--quiet", "--disable-pip-version-check", "--require-hashes", "--no-deps",
                 *TARGET, "--dest", str(cache), "-r", str(LOCK))
    if result.returncode != 0:
        raise RuntimeError(f"priming the wheel cache failed:\n{result.stderr[-3000:]}")
    return cache


def install(out: Path, cache: Path | None = None) -> None:
    """Build the bundle in `out`: the locked wheels from the cache (no index, no network), then our package."""
    cache = cache or cache_dir()
    if not cache.is_dir():
        raise RuntimeError(f"no wheel cache at {cache}: prime it once with `./dev setup` (or "
                           "`python -m infra.wheels prime`), which needs the package index")
    # --isolated: no pip configuration or PIP_* variable can add an index or change the target.
    result = pip("install", "--isolated", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-index",
                 "--find-links", str(cache), "--require-hashes", "--no-deps", *TARGET, "--target", str(out),
                 "-r", str(LOCK))
    if result.returncode != 0:
        raise RuntimeError(f"bundling the registry failed (is the wheel cache primed for this lock? "
                           f"`./dev setup` primes it):\n{result.stderr[-3000:]}")
    shutil.copytree(LAMBDA_SRC / "dockyard", out / "dockyard",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *NOT_BUNDLED))
    for pattern in PRUNE:
        for path in list(out.rglob(pattern)):
            _remove(path)
    for name in PRUNE_TOP:
        _remove(out / name)
    _prune_service_models(out)
    python = bundle_python()
    if python is None:
        print(f"dockyard: no CPython {PYTHON_VERSION} found (set DOCKYARD_BUNDLE_PYTHON): the bundle has no byte "
              "code, and every cold start of the function compiles its modules", file=sys.stderr)
    else:
        compile_bytecode(out, python[0])


@lru_cache(maxsize=1)
def bundle_python() -> tuple[str, str] | None:
    """(path, full version) of a CPython `PYTHON_VERSION` to compile the bundle's byte code with:
    `DOCKYARD_BUNDLE_PYTHON`, else `python3.13` on the PATH, else a pyenv installation; None if none runs."""
    name = f"python{PYTHON_VERSION}"
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [os.environ.get("DOCKYARD_BUNDLE_PYTHON"), shutil.which(name),
                  *sorted(glob.glob(os.path.join(pyenv, "versions", f"{PYTHON_VERSION}.*", "bin", name)), reverse=True)]
    for candidate in filter(None, candidates):
        try:
            result = subprocess.run([candidate, "-c", "import sys, platform; print(platform.python_implementation(), "
                                     "'%d.%d' % sys.version_info[:2], platform.python_version())"],
                                    capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = result.stdout.split()
        if result.returncode == 0 and found[:2] == ["CPython", PYTHON_VERSION]:
            return candidate, found[2]
    return None


def compile_bytecode(out: Path, python: str) -> None:
    """Byte code for every module of the bundle, next to its source (`__pycache__`), as `python` compiles it:
    checked by hash of the source, never by its time (the bundle never changes; a zip may not keep times),
    and naming the source where Lambda will find it, not where it was built."""
    result = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                             "-s", str(out), "-p", RUNTIME_ROOT, str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"compiling the bundle's byte code failed:\n{(result.stdout + result.stderr)[-3000:]}")


def _prune_service_models(out: Path) -> None:
    """Keep the botocore and boto3 models of the services the function calls, and drop the other 400."""
    for data in (out / "botocore" / "data", out / "boto3" / "data"):
        if data.is_dir():
            for path in data.iterdir():
                if path.is_dir() and path.name not in AWS_SERVICES:
                    _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def bundled_sources() -> list[Path]:
    """Our package's files that go into the bundle, in a stable order."""
    package = LAMBDA_SRC / "dockyard"
    return sorted(p for p in package.rglob("*") if p.is_file() and p.suffix != ".pyc"
                  and "__pycache__" not in p.parts and p.relative_to(package).parts[0] not in NOT_BUNDLED)


def asset_hash() -> str:
    """SHA-256 of everything that decides the bundle's content: the lock, our bundled source, the target."""
    digest = hashlib.sha256()
    compiler = bundle_python()
    for part in (BUNDLE_FORMAT, PYTHON_VERSION, PLATFORM, repr(PRUNE), repr(PRUNE_TOP), repr(AWS_SERVICES),
                 f"byte code: {compiler[1] if compiler else 'none'}"):
        digest.update(part.encode() + b"\0")
    digest.update(LOCK.read_bytes() + b"\0")
    for path in bundled_sources():
        digest.update(path.relative_to(LAMBDA_SRC).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def locked_versions() -> dict[str, str]:
    """{normalized distribution name: version} as pinned in the lock."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ", 1)[0].split("==")
            pins[_normalize(name)] = version
    return pins


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


if __name__ == "__main__":
    if sys.argv[1:] != ["prime"]:
        sys.exit("usage: python -m infra.wheels prime")
    print(f"wheel cache: {prime()}")
