"""The Warp kernel cache as part of the trainer: one folder per device kind, restorable from the artifact store.

Isaac Lab on Newton compiles its Warp kernels on first use (~30 s on CPU, minutes on a GPU), and a fresh GPU pod
starts with an empty cache every time. So the trainer, before it creates the environment, restores
``<URI>/<task>/warp/<warp-version>/<device-key>.tar.gz`` into an empty local cache, and after training publishes a
new tarball when kernels were compiled that the local cache did not hold at the start.

The cache is compiled native code that Warp loads into the process, so it is kept per trust domain: the task (its
config's ``name``). A task restores only what its own trainings and evaluations published and publishes only under
its own name; nothing of another task is ever restored (docs/backends.md says who may write where).

Local layout: ``<root>/<device-key>/<warp-version>/`` (Warp appends the version folder to ``WARP_CACHE_PATH`` itself,
so ``WARP_CACHE_PATH`` is set to ``<root>/<device-key>``). ``root`` is ``WARP_CACHE_PATH`` as the process found it
(remembered in ``TRAINER_WARP_CACHE_ROOT`` so child processes and repeated calls key the same root), else
``<data dir>/warp_cache``. Device keys: ``cpu``, ``sm_<arch>`` (e.g. ``sm_90``), or ``cuda`` when the arch cannot be
read. Warp names its binaries by arch too, so a wrong key costs a recompile, never a wrong kernel.

A cache is an optimisation: restore and publish never raise, they return a status and print a warning that names
no secret (URIs are shown without their query string).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from trainer.paths import data_dir
from trainer.redaction import redact_credentials, redact_uri

KERNEL_CACHE_ENV = "TRAINER_KERNEL_CACHE"  # store prefix URI; what launchers set
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # a task name (trainer/config.py): one clean path segment
ROOT_ENV = "TRAINER_WARP_CACHE_ROOT"
WARP_ENV = "WARP_CACHE_PATH"
# Warp builds a module in `<module dir>_p<pid>_t<tid>` and renames it into place; a crash leaves that folder behind.
_BUILD_DIR = re.compile(r"_p\d+_t\d+$")
# Failing fast matters more than persistence here: a cold compile is the worst case of giving up.
_BLOB_OPTIONS = {"retry_total": 2, "initial_backoff": 0.5, "increment_base": 1, "connection_timeout": 5,
                 "read_timeout": 60}


def warp_version() -> str | None:
    try:
        return metadata.version("warp-lang")
    except metadata.PackageNotFoundError:
        return None


def device_key(device: str) -> str:
    """``cpu`` or ``sm_<arch>`` of the CUDA device the trainer will use (``cuda`` if it cannot be read)."""
    if not str(device).startswith("cuda"):
        return "cpu"
    arch = _arch_from_nvidia_smi() or _arch_from_torch(device)
    return f"sm_{arch}" if arch else "cuda"


def _arch_from_nvidia_smi() -> str | None:
    """Compute capability of the visible GPUs without initialising CUDA in this process (None if they differ)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    cmd = [exe, "--query-gpu=compute_cap", "--format=csv,noheader"]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        cmd += ["-i", visible]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    caps = {line.strip() for line in out.splitlines() if line.strip()}
    if len(caps) != 1:
        return None
    major, _, minor = caps.pop().partition(".")
    return f"{major}{minor}" if major.isdigit() and minor.isdigit() else None


def _arch_from_torch(device: str) -> str | None:
    try:
        import torch  # initialises CUDA, which the trainer is about to do anyway

        major, minor = torch.cuda.get_device_capability(device)
    except Exception:  # noqa: BLE001 - no usable CUDA here: the generic key still works
        return None
    return f"{major}{minor}"


def cache_root() -> Path:
    """The remembered root while WARP_CACHE_PATH is still the folder we keyed below it; a newer WARP_CACHE_PATH wins."""
    warp, remembered = os.environ.get(WARP_ENV), os.environ.get(ROOT_ENV)
    if remembered and (not warp or Path(warp).parent == Path(remembered)):
        return Path(remembered)
    return Path(warp) if warp else data_dir() / "warp_cache"


def configure(device: str) -> Path:
    """Point Warp at this device's cache (before Warp is initialised); returns the folder Warp will fill."""
    root = cache_root()
    key = device_key(device)
    os.environ[ROOT_ENV] = str(root)
    os.environ[WARP_ENV] = str(root / key)
    local = root / key / (warp_version() or "unknown")
    local.mkdir(parents=True, exist_ok=True)
    return local


def store_key(domain: str, device_key: str, version: str) -> str:
    """The tarball of one trust domain (task), Warp version and device kind under the store prefix."""
    if not _DOMAIN.fullmatch(domain or ""):
        raise ValueError(f"kernel cache domain {domain!r} is not a task name ({_DOMAIN.pattern})")
    return f"{domain}/warp/{version}/{device_key}.tar.gz"


@dataclass
class CacheStatus:
    """What restore/publish did: ``restored``, ``published``, ``skipped``, ``absent``, ``unchanged``, ``failed``
    or ``disabled``; ``reason`` says why for anything but success."""

    action: str
    files: int = 0
    seconds: float = 0.0
    uri: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.action != "failed"


def cache_files(local: Path) -> set[str]:
    """Relative paths of the cache's files, without Warp's abandoned build folders."""
    if not local.is_dir():
        return set()
    files = set()
    for path in local.rglob("*"):
        rel = path.relative_to(local)
        if _BUILD_DIR.search(rel.parts[0]) or rel.parts[0].startswith("."):
            continue
        if path.is_file() and not path.is_symlink():
            files.add(rel.as_posix())
    return files


def restore(uri: str, local: str | os.PathLike, key: str) -> CacheStatus:
    """Fill an empty ``local`` from ``<uri>/<key>``: sha256 verified by the store, unpacked with tarfile's ``data``
    filter into a staging folder that is renamed into place only once complete."""
    local = Path(local)
    t0 = time.monotonic()
    if present := len(cache_files(local)):
        return CacheStatus("skipped", reason=f"local cache {local} already holds {present} files")
    shown = redact_uri(uri)
    staging = None
    try:
        store = _open(uri)
        shown = store.uri_for(key)
        if not store.exists(key):
            return CacheStatus("absent", uri=shown, reason="no cache published for this Warp version and device")
        local.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{local.name}.restore-"))
        archive = staging / "cache.tar.gz"
        store.get_file(key, archive)
        unpacked = staging / "cache"
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(unpacked, filter=_cache_member)
        if cache_files(local):  # another process filled it meanwhile: theirs is as good as ours
            return CacheStatus("skipped", uri=shown, reason=f"local cache {local} was filled meanwhile")
        shutil.rmtree(local, ignore_errors=True)  # at most empty folders or abandoned builds
        os.replace(unpacked, local)
        files = len(cache_files(local))
    except Exception as e:  # noqa: BLE001 - a cache must never stop training
        return _failed("restore", shown, uri, e, t0)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    seconds = time.monotonic() - t0
    print(f"[trainer] kernel cache restored: {files} files from {shown} in {seconds:.1f} s", flush=True)
    return CacheStatus("restored", files, seconds, shown)


def publish(uri: str, local: str | os.PathLike, key: str, baseline: set[str]) -> CacheStatus:
    """Upload ``local`` as one tarball to ``<uri>/<key>`` when it holds files that ``baseline`` lacked.

    The store's put is atomic, so a reader gets the previous tarball or this one, never a mix.
    """
    local = Path(local)
    t0 = time.monotonic()
    files = cache_files(local)
    new = files - baseline
    if not new:
        return CacheStatus("unchanged", len(files), reason="no kernels compiled since the start")
    shown = redact_uri(uri)
    tmp = None
    try:
        store = _open(uri)
        shown = store.uri_for(key)
        fd, name = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.publish-", suffix=".tar.gz")
        os.close(fd)
        tmp = Path(name)
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            for rel in sorted(files):
                tar.add(local / rel, arcname=rel, recursive=False, filter=_anonymous)
        store.put_file(tmp, key)
    except Exception as e:  # noqa: BLE001 - a cache must never fail a finished training
        return _failed("publish", shown, uri, e, t0)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    seconds = time.monotonic() - t0
    print(f"[trainer] kernel cache published: {len(files)} files ({len(new)} new) to {shown} in {seconds:.1f} s",
          flush=True)
    return CacheStatus("published", len(files), seconds, shown)


@dataclass
class KernelCache:
    """The trainer's hook: ``KernelCache.open(device, domain, uri)`` before the env exists, ``.publish()`` after
    training. ``domain`` is the task's name: the store holds one cache per task, never shared between tasks."""

    local: Path
    key: str
    uri: str | None
    baseline: set[str] = field(default_factory=set)
    restored: CacheStatus | None = None

    @classmethod
    def open(cls, device: str, domain: str, uri: str | None = None) -> KernelCache:
        """Configure the per-device cache folder and restore it from ``uri`` (default: ``TRAINER_KERNEL_CACHE``)."""
        uri = uri or os.environ.get(KERNEL_CACHE_ENV) or None
        local = configure(device)
        version = warp_version()
        key = store_key(domain, local.parent.name, version or "unknown")
        restored = None
        if uri and version:
            restored = restore(uri, local, key)
        return cls(local, key, uri if version else None, cache_files(local), restored)

    def publish(self) -> CacheStatus:
        if not self.uri:
            return CacheStatus("disabled", reason="no kernel cache URI")
        return publish(self.uri, self.local, self.key, self.baseline)


def _open(uri: str):
    from trainer.storage import open_store
    from trainer.storage.uris import is_blob_uri

    return open_store(uri, **_BLOB_OPTIONS) if is_blob_uri(uri) else open_store(uri)


class UnsafeArchiveError(ValueError):
    """A cache tarball member that is not a plain file or folder at a clean relative path."""


def _cache_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """Stricter than tarfile's ``data`` filter (which would strip a leading '/' and extract anyway): a Warp cache
    holds only files and folders, so anything else means the tarball is not ours."""
    parts = member.name.split("/")
    if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"cache tarball member {member.name!r} is not a plain relative file; refusing it")
    return tarfile.data_filter(member, dest)


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _failed(what: str, shown: str, uri: str, error: Exception, t0: float) -> CacheStatus:
    message = str(error).replace(str(uri), redact_uri(uri))
    if "?" in str(uri):
        message = message.replace(str(uri).split("?", 1)[1], "<redacted>")
    message = redact_credentials(message)  # what the SDK quoted: a connection string, a SAS, a token
    reason = f"{type(error).__name__}: {message}"
    print(f"[trainer] warning: kernel cache {what} skipped ({shown}): {reason}; Warp compiles what it needs",
          flush=True)
    return CacheStatus("failed", seconds=time.monotonic() - t0, uri=shown, reason=reason)
