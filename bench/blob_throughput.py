"""Artifact-store throughput vs raw azure-storage-blob on Azurite, 4 threads each, measured in one run.

    .venv/bin/python bench/blob_throughput.py [--sizes-mb 8,100] [--repeats 7]

For each size: upload and download through ``trainer.storage`` (sha256 computed on upload and verified on download,
atomic rename of the downloaded file) and through bare ``BlobClient.upload_blob``/``download_blob().readinto`` in two
configurations: the SDK's defaults and the store's block/chunk size. Each repeat runs the three in a shuffled order
so drift and order effects on a shared machine hit all of them; the median per side is reported. Ratio = store
throughput / the faster raw configuration's throughput (target >= 0.9).
"""

from __future__ import annotations

import argparse
import os
import random
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
SIDES = ["raw_sdk", "raw_blk", "store"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="8,100", help="object sizes in MiB (a checkpoint, a large model)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from azure.storage.blob import BlobServiceClient

    from trainer.storage import open_store

    with tempfile.TemporaryDirectory(prefix="blob-bench-") as tmp:
        tmp = Path(tmp)
        azurite = Azurite(tmp / "azurite").start()
        try:
            os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
            raw_clients = {
                "raw_sdk": BlobServiceClient.from_connection_string(azurite.connection_string),
                "raw_blk": BlobServiceClient.from_connection_string(
                    azurite.connection_string, max_block_size=BLOCK, max_single_put_size=BLOCK,
                    max_chunk_get_size=BLOCK, max_single_get_size=BLOCK,
                ),
            }  # fmt: skip
            raw_clients["raw_sdk"].create_container("bench")
            store = open_store(f"{azurite.blob_endpoint}/bench/store", max_concurrency=THREADS, block_size=BLOCK)
            load = os.getloadavg()[0]
            print(f"Azurite {azurite.blob_endpoint}, block {BLOCK // MiB} MiB, {THREADS} threads, "
                  f"{args.repeats} repeats (median), {os.cpu_count()} CPUs, load average {load:.2f}")
            print("raw_sdk = SDK defaults, raw_blk = the store's block/chunk size; ratio = store / faster raw")
            print(f"{'size':>8} {'op':>9} {'raw_sdk MB/s':>12} {'raw_blk MB/s':>12} {'store MB/s':>10} {'ratio':>6}")
            ratios = []
            order = random.Random(0)

            def upload(side: str, name: str, src: Path, dest: Path) -> None:
                if side == "store":
                    store.put_file(src, name)
                    return
                with open(src, "rb") as f:
                    raw_clients[side].get_blob_client("bench", f"{side}/{name}").upload_blob(
                        f, overwrite=True, length=src.stat().st_size, max_concurrency=THREADS
                    )

            def download(side: str, name: str, src: Path, dest: Path) -> None:
                if side == "store":
                    store.get_file(name, dest)
                    return
                with open(dest, "wb") as f:
                    raw_clients[side].get_blob_client("bench", f"{side}/{name}").download_blob(
                        max_concurrency=THREADS
                    ).readinto(f)

            for size_mb in [int(s) for s in args.sizes_mb.split(",")]:
                src = tmp / f"src-{size_mb}.bin"
                src.write_bytes(os.urandom(size_mb * MiB))
                size = src.stat().st_size
                dest = tmp / "down.bin"
                times: dict[str, list[float]] = {f"{side}_{op}": [] for side in SIDES for op in ("up", "down")}
                for i in range(args.repeats):
                    name = f"{size_mb}-{i}.bin"
                    for op, run in (("up", upload), ("down", download)):
                        for side in order.sample(SIDES, len(SIDES)):
                            t = time.perf_counter()
                            run(side, name, src, dest)
                            times[f"{side}_{op}"].append(time.perf_counter() - t)
                            dest.unlink(missing_ok=True)
                for op in ("up", "down"):
                    mbps = {side: size / statistics.median(times[f"{side}_{op}"]) / 1e6 for side in SIDES}
                    ratio = mbps["store"] / max(mbps["raw_sdk"], mbps["raw_blk"])
                    ratios.append(ratio)
                    label = "upload" if op == "up" else "download"
                    print(f"{size_mb:>6}Mi {label:>9} {mbps['raw_sdk']:>12.1f} {mbps['raw_blk']:>12.1f} "
                          f"{mbps['store']:>10.1f} {ratio:>6.2f}")
            print(f"min ratio {min(ratios):.3f} (target >= 0.9): {'OK' if min(ratios) >= 0.9 else 'BELOW TARGET'}; "
                  f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
            store.close()
            for client in raw_clients.values():
                client.close()
        finally:
            azurite.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
