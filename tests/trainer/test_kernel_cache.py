"""Warp kernel cache: per-device folder, restore/publish through the artifact store (LocalStore and Azurite).

No Isaac Lab here: a few small files stand in for Warp's compiled modules (same folder layout).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from trainer import kernel_cache as kc
from trainer.storage import open_store

VERSION = kc.warp_version() or "unknown"
TASK = "cartpole"  # the trust domain of the cache


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    """A private cache root, as a pod with WARP_CACHE_PATH=<root> would have."""
    root = tmp_path / "warp_cache"
    monkeypatch.setenv(kc.WARP_ENV, str(root))
    monkeypatch.delenv(kc.ROOT_ENV, raising=False)
    monkeypatch.delenv(kc.KERNEL_CACHE_ENV, raising=False)
    return root


def fill(local: Path, modules: list[str]) -> set[str]:
    """Files shaped like Warp's: wp_<module>/<module>.<arch>.o + .meta."""
    made = set()
    for name in modules:
        folder = local / f"wp_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".cpu1633becd.o", b"\x7fELF" + name.encode() * 50), (".meta", b'{"x": 1}')):
            (folder / f"wp_{name}{suffix}").write_bytes(data)
            made.add(f"wp_{name}/wp_{name}{suffix}")
    return made


def test_configure_keys_the_folder_by_device_and_version(cache_env):
    local = kc.configure("cpu")
    assert local == cache_env / "cpu" / VERSION and local.is_dir()
    import os

    assert os.environ[kc.WARP_ENV] == str(cache_env / "cpu")  # Warp appends the version folder itself
    assert kc.configure("cpu") == local  # idempotent: the remembered root is not nested again
    os.environ[kc.WARP_ENV] = str(cache_env.parent / "elsewhere")  # set anew later (a test, a bench): it wins
    assert kc.configure("cpu") == cache_env.parent / "elsewhere" / "cpu" / VERSION
    assert kc.store_key("cartpole", "sm_90", "1.17.0") == "cartpole/warp/1.17.0/sm_90.tar.gz"


def test_device_key_reads_the_arch_without_cuda(monkeypatch, tmp_path):
    assert kc.device_key("cpu") == "cpu"
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 9.0\necho 9.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert kc.device_key("cuda:0") == "sm_90"
    fake.write_text("#!/bin/sh\necho 9.0\necho 8.0\n")  # mixed GPUs: no single answer, torch decides per device
    assert kc._arch_from_nvidia_smi() is None


def test_embedded_default_lives_under_the_data_dir(tmp_path):
    """No WARP_CACHE_PATH: the cpu cache is <data dir>/warp_cache/cpu/<version>, set before Warp starts."""
    code = (
        "import os; from trainer import kernel_cache as kc; print(kc.configure('cpu')); print(os.environ['WARP_CACHE_PATH'])"
    )
    env = {"PATH": "/usr/bin:/bin", "ROBOTICS_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert out == [str(tmp_path / "warp_cache" / "cpu" / VERSION), str(tmp_path / "warp_cache" / "cpu")]


def round_trip(uri: str, cache_env: Path, capsys) -> None:
    first = kc.KernelCache.open("cpu", TASK, uri)
    assert first.restored.action == "absent"
    made = fill(first.local, ["alpha", "beta"])
    published = first.publish()
    assert published.action == "published" and published.files == len(made)
    assert "kernel cache published: 4 files (4 new)" in capsys.readouterr().out

    # a fresh pod: same URI, empty local cache on another root
    other_root = cache_env.parent / "fresh_pod"
    import os

    os.environ[kc.WARP_ENV] = str(other_root)
    os.environ.pop(kc.ROOT_ENV)
    second = kc.KernelCache.open("cpu", TASK, uri)
    assert second.restored.action == "restored" and second.restored.files == 4
    assert second.local == other_root / "cpu" / VERSION
    assert kc.cache_files(second.local) == made
    for rel in made:
        assert (second.local / rel).read_bytes() == (first.local / rel).read_bytes()
    out = capsys.readouterr().out
    assert "[trainer] kernel cache restored: 4 files from " in out and f"{TASK}/warp/{VERSION}/cpu.tar.gz in " in out
    assert not [p for p in second.local.parent.iterdir() if p.name.startswith(".")]  # staging cleaned up

    assert second.publish().action == "unchanged"  # nothing compiled: nothing uploaded
    fill(second.local, ["gamma"])
    assert second.publish().action == "published"
    third_root = cache_env.parent / "third_pod"
    os.environ[kc.WARP_ENV] = str(third_root)
    os.environ.pop(kc.ROOT_ENV)
    assert kc.KernelCache.open("cpu", TASK, uri).restored.files == 6


def test_round_trip_through_a_local_store(cache_env, tmp_path, capsys):
    round_trip((tmp_path / "store").as_uri(), cache_env, capsys)
    assert (tmp_path / "store" / TASK / "warp" / VERSION / "cpu.tar.gz.sha256").is_file()


def test_round_trip_through_azurite(cache_env, azurite, monkeypatch, capsys):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    uri = f"{azurite.blob_endpoint}/checkpoints/kernel-cache"
    round_trip(uri, cache_env, capsys)
    assert open_store(uri).list(TASK) == [f"{TASK}/warp/{VERSION}/cpu.tar.gz"]


def test_restore_skipped_when_local_cache_has_files(cache_env, tmp_path):
    uri = (tmp_path / "store").as_uri()
    source = tmp_path / "src"
    fill(source, ["alpha"])
    kc.publish(uri, source, kc.store_key(TASK, "cpu", VERSION), set())
    local = kc.configure("cpu")
    mine = fill(local, ["local_only"])
    cache = kc.KernelCache.open("cpu", TASK, uri)
    assert cache.restored.action == "skipped" and "already holds 2 files" in cache.restored.reason
    assert kc.cache_files(local) == mine


def test_tampered_tarball_is_refused_and_training_continues(cache_env, tmp_path, capsys):
    uri = (tmp_path / "store").as_uri()
    source = tmp_path / "src"
    fill(source, ["alpha"])
    kc.publish(uri, source, kc.store_key(TASK, "cpu", VERSION), set())
    stored = tmp_path / "store" / TASK / "warp" / VERSION / "cpu.tar.gz"
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    cache = kc.KernelCache.open("cpu", TASK, uri)  # does not raise
    assert cache.restored.action == "failed" and "IntegrityError" in cache.restored.reason
    assert kc.cache_files(cache.local) == set()
    assert not [p for p in cache.local.parent.iterdir() if p.name.startswith(".")]
    assert "warning: kernel cache restore skipped" in capsys.readouterr().out


def _evil_tarball(store_root: Path, member: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        ok = tarfile.TarInfo("wp_fine/wp_fine.meta")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"{}"))
        evil = tarfile.TarInfo(member)
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    open_store(store_root).put_bytes(buf.getvalue(), kc.store_key(TASK, "cpu", VERSION))  # a valid sha256: only the path is bad


@pytest.mark.parametrize("member", ["../../escaped.txt", "/tmp/absolute-escape.txt"])
def test_path_traversal_member_is_rejected(cache_env, tmp_path, member):
    _evil_tarball(tmp_path / "store", member)
    cache = kc.KernelCache.open("cpu", TASK, (tmp_path / "store").as_uri())
    assert cache.restored.action == "failed"
    assert "Error" in cache.restored.reason
    assert not (cache_env / "escaped.txt").exists() and not (cache_env.parent / "escaped.txt").exists()
    assert not list(tmp_path.rglob("escaped.txt")) and not list(tmp_path.rglob("absolute-escape.txt"))
    assert kc.cache_files(cache.local) == set()  # not even the good member: nothing half-restored


def test_publish_only_new_files_and_skips_abandoned_builds(cache_env, tmp_path):
    uri = (tmp_path / "store").as_uri()
    local = kc.configure("cpu")
    fill(local, ["alpha"])
    cache = kc.KernelCache.open("cpu", TASK, uri)
    (local / "wp_beta_p123_t456").mkdir()  # a crashed build: not a new kernel
    (local / "wp_beta_p123_t456" / "half.o").write_bytes(b"x")
    assert cache.publish().action == "unchanged"
    assert not (tmp_path / "store").exists()
    fill(local, ["beta"])
    assert cache.publish().action == "published"
    with tarfile.open(tmp_path / "store" / TASK / "warp" / VERSION / "cpu.tar.gz") as tar:
        names = tar.getnames()
        assert all(m.uid == 0 and m.uname == "" for m in tar.getmembers())
    assert sorted(names) == sorted(kc.cache_files(local)) and not any("_p123_" in n for n in names)
    assert not [p for p in local.parent.iterdir() if p.name.startswith(".")]  # the temporary tarball is gone


def test_unreachable_store_warns_without_secrets(cache_env, monkeypatch, capsys):
    monkeypatch.setitem(kc._BLOB_OPTIONS, "retry_total", 0)
    secret_key = "c2VjcmV0LWtleS1ub3QtZm9yLWxvZ3M="
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       f"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={secret_key};"
                       "BlobEndpoint=http://127.0.0.1:9/acct;")
    # a SAS token in the URI is refused (credentials come from the environment), and never shown
    sas = kc.KernelCache.open("cpu", TASK, "http://127.0.0.1:9/acct/cache/prefix?sv=2024&sig=TOPSECRETSIG")
    assert sas.restored.action == "failed" and "remove its credentials" in sas.restored.reason
    cache = kc.KernelCache.open("cpu", TASK, "http://127.0.0.1:9/acct/cache/prefix")
    assert cache.restored.action == "failed"
    assert f"prefix/{TASK}/warp/" in cache.restored.reason and "cpu.tar.gz/" not in cache.restored.reason
    local = cache.local
    fill(local, ["alpha"])
    assert cache.publish().action == "failed"
    out = capsys.readouterr().out
    assert out.count("warning: kernel cache") == 3
    for secret in (secret_key, "TOPSECRETSIG", "sig="):
        assert secret not in out and secret not in cache.restored.reason + sas.restored.reason


def test_no_uri_means_no_store_access(cache_env):
    cache = kc.KernelCache.open("cpu", TASK)
    assert cache.restored is None and cache.publish().action == "disabled"


def test_uri_from_the_environment(cache_env, tmp_path, monkeypatch):
    monkeypatch.setenv(kc.KERNEL_CACHE_ENV, (tmp_path / "store").as_uri())
    assert kc.KernelCache.open("cpu", TASK).restored.action == "absent"


def test_module_import_stays_light():
    code = "import sys, trainer.kernel_cache; print(any(m in sys.modules for m in ('torch', 'warp', 'azure.storage.blob')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == "False"


def test_cli_option_reaches_the_trainer(monkeypatch, tmp_path):
    """`train --kernel-cache URI` hands the URI to KernelCache.open (via TRAINER_KERNEL_CACHE) before anything runs."""
    import os

    from trainer import cli

    monkeypatch.setenv(kc.KERNEL_CACHE_ENV, "restored-after-the-test")
    uri = (tmp_path / "store").as_uri()
    rc = cli.main(["train", "--config", str(tmp_path / "missing.yaml"), "--run-dir", str(tmp_path / "run"),
                   "--kernel-cache", uri])
    assert rc == cli.EXIT_BAD_INPUT  # the missing config is reported as usual
    assert os.environ[kc.KERNEL_CACHE_ENV] == uri


def test_a_task_never_restores_another_tasks_cache(cache_env, tmp_path):
    """The cache is native code: one trust domain per task. What `cartpole` published is invisible to `ant`."""
    import os

    uri = (tmp_path / "store").as_uri()
    first = kc.KernelCache.open("cpu", TASK, uri)
    fill(first.local, ["alpha"])
    assert first.publish().action == "published"
    os.environ[kc.WARP_ENV] = str(tmp_path / "other_task_pod")
    os.environ.pop(kc.ROOT_ENV)
    other = kc.KernelCache.open("cpu", "ant", uri)
    assert other.restored.action == "absent" and not kc.cache_files(other.local)
    fill(other.local, ["beta"])
    assert other.publish().action == "published"  # under its own name: cartpole's tarball is untouched
    assert sorted(open_store(uri).list("")) == [f"ant/warp/{VERSION}/cpu.tar.gz", f"{TASK}/warp/{VERSION}/cpu.tar.gz"]
    os.environ[kc.WARP_ENV] = str(tmp_path / "cartpole_pod")
    os.environ.pop(kc.ROOT_ENV)
    again = kc.KernelCache.open("cpu", TASK, uri)
    assert kc.cache_files(again.local) == {"wp_alpha/wp_alpha.cpu1633becd.o", "wp_alpha/wp_alpha.meta"}


@pytest.mark.parametrize("domain", ["", "../ant", "Ant", "a/b", "x" * 64])
def test_a_domain_is_one_task_name(domain):
    with pytest.raises(ValueError, match="is not a task name"):
        kc.store_key(domain, "cpu", VERSION)
