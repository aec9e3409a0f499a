"""Artifact-store throughput vs raw azure-storage-blob on Azurite, 4 threads each, measured in one run.

    .venv/bin/python bench/blob_throughput.py [--sizes-mb 8,100] [--repeats 3]

For each size: upload and download through ``trainer.storage`` (sha256 computed on upload and verified on download,
atomic rename of the downloaded file) and through a bare ``BlobClient.upload_blob``/``download_blob().readinto``
with the same block size and concurrency. Runs alternate (raw, store, raw, store, ...) so drift on a shared machine
hits both; the median per side is reported. Ratio = store throughput / raw throughput (target >= 0.9).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import Azurite

MiB = 1024 * 1024
BLOCK = 8 * MiB
THREADS = 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="8,100", help="object sizes in MiB (a checkpoint, a large model)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from azure.storage.blob import BlobServiceClient

    from trainer.storage import open_store

    with tempfile.TemporaryDirectory(prefix="blob-bench-") as tmp:
        tmp = Path(tmp)
        azurite = Azurite(tmp / "azurite").start()
        try:
            os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
            raw_svc = BlobServiceClient.from_connection_string(
                azurite.connection_string, max_block_size=BLOCK, max_single_put_size=BLOCK,
                max_chunk_get_size=BLOCK, max_single_get_size=BLOCK,
            )  # fmt: skip
            raw_svc.create_container("bench")
            store = open_store(f"{azurite.blob_endpoint}/bench/store", max_concurrency=THREADS, block_size=BLOCK)
            print(f"Azurite {azurite.blob_endpoint}, block {BLOCK // MiB} MiB, {THREADS} threads, "
                  f"{args.repeats} repeats (median), {os.cpu_count()} CPUs")
            print(f"{'size':>8} {'op':>9} {'raw MB/s':>9} {'store MB/s':>10} {'ratio':>6}")
            ratios = []
            for size_mb in [int(s) for s in args.sizes_mb.split(",")]:
                src = tmp / f"src-{size_mb}.bin"
                src.write_bytes(os.urandom(size_mb * MiB))
                size = src.stat().st_size
                times: dict[str, list[float]] = {"raw_up": [], "store_up": [], "raw_down": [], "store_down": []}
                for i in range(args.repeats):
                    raw_blob = raw_svc.get_blob_client("bench", f"raw/{size_mb}-{i}.bin")
                    t = time.perf_counter()
                    with open(src, "rb") as f:
                        raw_blob.upload_blob(f, overwrite=True, length=size, max_concurrency=THREADS)
                    times["raw_up"].append(time.perf_counter() - t)

                    t = time.perf_counter()
                    store.put_file(src, f"{size_mb}-{i}.bin")
                    times["store_up"].append(time.perf_counter() - t)

                    dest = tmp / "down.bin"
                    t = time.perf_counter()
                    with open(dest, "wb") as f:
                        raw_blob.download_blob(max_concurrency=THREADS).readinto(f)
                    times["raw_down"].append(time.perf_counter() - t)
                    dest.unlink()

                    t = time.perf_counter()
                    store.get_file(f"{size_mb}-{i}.bin", dest)
                    times["store_down"].append(time.perf_counter() - t)
                    dest.unlink()
                for op in ("up", "down"):
                    raw = size / statistics.median(times[f"raw_{op}"]) / 1e6
                    ours = size / statistics.median(times[f"store_{op}"]) / 1e6
                    ratios.append(ours / raw)
                    label = "upload" if op == "up" else "download"
                    print(f"{size_mb:>6}Mi {label:>9} {raw:>9.1f} {ours:>10.1f} {ours / raw:>6.2f}")
            print(f"min ratio {min(ratios):.2f} (target >= 0.9): {'OK' if min(ratios) >= 0.9 else 'BELOW TARGET'}")
            store.close()
            raw_svc.close()
        finally:
            azurite.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
