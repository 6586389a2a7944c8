"""Microseconds per blob download URL: CloudFront signed URLs (edge downloads) beside presigned S3 URLs,
interleaved in one run (this machine is shared and noisy: compare the ratios, not the absolute figures).

    python benchmarks/edge_signing.py [--urls 2000] [--rounds 5]

- `S3, botocore`: `generate_presigned_url("get_object")`, what the registry used before storage/presign.py;
- `S3, storage/presign.py`: the SigV4 query signer of the blob redirect (when that module is present);
- `CloudFront, new blob`: a URL for a blob not signed in this window: one RSA 2048 signature (SHA-1);
- `CloudFront, same blob again`: a URL for a blob already signed in this window (the signer remembers it);
- `RSA 2048 signature alone`: `cryptography`'s sign, the floor of a new CloudFront URL;
- `ECDSA P-256 signature alone`: what a new URL would cost with an ECDSA key, which CloudFront key groups
  also take (not used: a possible speed-up, measured for comparison).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

from common import FAKE_ENV, environment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=2000, help="URLs per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import os

    import boto3
    from botocore.config import Config
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    from dockyard.storage.edge import EdgeSigner, generate_key, load_key

    os.environ.update(FAKE_ENV)
    s3 = boto3.session.Session(region_name="us-east-1").client("s3", config=Config(signature_version="s3v4"))
    private, _ = generate_key()
    key = load_key(private)
    edge = EdgeSigner("https://d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F", private)
    keys = [f"blobs/sha256/{i % 256:02x}/{i:064x}" for i in range(args.urls)]
    counter = iter(range(10**9))

    cases = {"S3, botocore": lambda k: s3.generate_presigned_url(
        "get_object", Params={"Bucket": "dockyard-blobs", "Key": k}, ExpiresIn=300)}
    if importlib.util.find_spec("dockyard.storage.presign"):
        from dockyard.storage.presign import presigned_get

        cases["S3, storage/presign.py"] = lambda k: presigned_get(s3, "dockyard-blobs", k, 300)
    cases["CloudFront, new blob"] = lambda k: edge.url(f"{k}-{next(counter)}", 300)
    cases["CloudFront, same blob again"] = lambda k: edge.url(keys[0], 300)
    cases["RSA 2048 signature alone"] = lambda k: key.sign(k.encode(), padding.PKCS1v15(), hashes.SHA1())
    curve = ec.generate_private_key(ec.SECP256R1())
    cases["ECDSA P-256 signature alone"] = lambda k: curve.sign(k.encode(), ec.ECDSA(hashes.SHA256()))
    edge.url(keys[0], 300)
    for case in cases.values():  # warm-up: first-use setup (botocore's endpoint rules, the SigV4 probe)
        case(keys[0])

    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():  # interleaved, so that load changes hit every case alike
            started = time.perf_counter()
            for k in keys:
                case(k)
            timings[name].append((time.perf_counter() - started) / len(keys) * 1e6)

    medians = {name: statistics.median(values) for name, values in timings.items()}
    references = [name for name in ("S3, botocore", "S3, storage/presign.py") if name in medians]
    print("# Blob download URL signing\n")
    print(f"{environment()}; {args.urls} URLs x {args.rounds} rounds, interleaved; medians of the rounds\n")
    print("| URL | µs per URL | " + " | ".join(f"vs {name}" for name in references) + " |")
    print("| --- | --- |" + " --- |" * len(references))
    for name, median in medians.items():
        print(f"| {name} | {median:.1f} | " + " | ".join(f"{median / medians[r]:.2f}x" for r in references) + " |")

if __name__ == "__main__":
    main()
