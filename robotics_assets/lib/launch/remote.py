"""What the remote backends (k8s, osmo) share: launch identity labels, the restart policy, Pipes transport, env checks.

Restart model: an attempt lost to the infrastructure (spot eviction, node loss, preemption) is retried with
`--resume` in a NEW Pipes session, because a restarted process's Pipes message writer counts its chunks from 1 again
and would overwrite the earlier attempt's messages. An application failure is not retried by the backend (Dagster's
own retry policy may retry the whole step); disruptions are retried at most `restart_budget` times.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from robotics_assets.lib.osmo.spec import label_value

if TYPE_CHECKING:
    from robotics_assets.lib.launch.base import LaunchRequest

# Environment names that must travel as secret references (OSMO credentials / k8s secretKeyRef), never as values.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CONNECTION_STRING|SAS|CREDENTIAL)", re.IGNORECASE)

LABEL_RUN = "dagster-run-id"
LABEL_ASSET = "dagster-asset"
LABEL_PARTITION = "dagster-partition"
LABEL_STEP = "robotics-step"
LABEL_RUN_KEY = "robotics-run-key"
LABEL_ATTEMPT = "robotics-attempt"


@dataclass(frozen=True)
class LaunchIdentity:
    """Who a remote object belongs to, as label values: used to re-attach to, or refuse, an existing launch."""

    run_id: str  # the ROOT Dagster run id: a retried run (new run id) still owns its predecessor's objects
    asset: str
    partition: str
    step: str
    run_key: str

    def owner_labels(self) -> dict[str, str]:
        """The labels that say "this partition of this asset is being computed" (same for every Dagster run)."""
        return {LABEL_ASSET: self.asset, LABEL_PARTITION: self.partition, LABEL_STEP: self.step}

    def labels(self, attempt: int) -> dict[str, str]:
        return {LABEL_RUN: self.run_id, **self.owner_labels(), LABEL_RUN_KEY: self.run_key,
                LABEL_ATTEMPT: str(attempt)}


def launch_identity(context: dg.AssetExecutionContext, request: LaunchRequest) -> LaunchIdentity:
    run = context.run
    root = getattr(run, "root_run_id", None) or run.run_id
    try:
        asset = context.asset_key.to_user_string()
    except dg.DagsterInvariantViolationError:  # an op or multi-asset: fall back to the op name
        asset = context.op.name
    partition = context.partition_key if context.has_partition_key else "unpartitioned"
    return LaunchIdentity(
        run_id=label_value(root), asset=label_value(asset), partition=label_value(partition),
        step=request.step, run_key=label_value(request.run_key),
    )


def check_plain_env(env: Mapping[str, str], where: str) -> None:
    """Refuse secret-looking variables in plain env: they would land in specs, manifests and run metadata.

    A secret-looking name, or a value that carries credentials (a URL with a password, a SAS signature, an account
    key) under an innocent name; the error names the variable, never the value.
    """
    from robotics_assets.lib.secrets import has_credentials

    for name, value in env.items():
        if name.startswith("DAGSTER_PIPES_"):
            continue
        if _SECRET_NAME.search(name) or has_credentials(str(value)):
            raise ValueError(
                f"{where}: environment variable {name!r} looks like a secret (its name or its value); pass it by "
                "reference instead (backend_options.credentials for OSMO, backend_options.secret_env for k8s)"
            )


def check_option_keys(options_cls: type, options: Mapping[str, Any], where: str, *, extra: tuple[str, ...] = (),
                      derived: tuple[str, ...] = ()) -> None:
    """Unknown `backend_options` keys are typos: name them and the allowed keys instead of a TypeError.

    `derived` fields come from the Terraform outputs and cannot be set here.
    """
    allowed = ({f.name for f in dataclasses.fields(options_cls)} - set(derived)) | set(extra)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def resume_args(request: LaunchRequest, resume: bool) -> list[str]:
    """Trainer args for one attempt: `--resume` only for `train`, and only when resuming."""
    args = list(request.args)
    if resume and request.step == "train" and "--resume" not in args:
        if "--warm-start" in args:  # a resumed run continues its own checkpoints, not the warm-start source
            i = args.index("--warm-start")
            del args[i:i + 2]
        args.append("--resume")
    return args


def pipes_transport(kind: str, options: Mapping[str, Any] | None = None) -> tuple[dg.PipesContextInjector,
                                                                                  dg.PipesMessageReader]:
    """A fresh (injector, reader) pair per attempt.

    `blob`: Pipes over Azure Blob (Azurite or Azure), the transport for real remote pods; options are
    `robotics_assets.lib.azure.pipes.blob_pipes` arguments (account_url, container, ...).
    `local-files`: temp files on this machine, only for a remote side that shares the filesystem (the OSMO stand-in).
    """
    options = dict(options or {})
    if kind == "local-files":
        return dg.PipesTempFileContextInjector(), dg.PipesTempFileMessageReader()
    if kind == "blob":
        from robotics_assets.lib.azure.pipes import blob_pipes

        if not options.get("account_url"):
            raise ValueError("backend_options.pipes_options.account_url: missing (the region's storage.blob_endpoint)")
        return blob_pipes(**options)
    raise ValueError(f"backend_options.pipes: {kind!r} is not a Pipes transport (allowed: blob, local-files)")


def blob_pipes_defaults(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Pipes-over-Blob options from the region's Terraform outputs (its storage account's `pipes` container)."""
    storage = outputs.get("storage") or {}
    endpoint = storage.get("blob_endpoint")
    out: dict[str, Any] = {"account_url": endpoint.rstrip("/")} if endpoint else {}
    container = (storage.get("containers") or {}).get("pipes")
    if container:
        out["container"] = container
    return out
