"""`python -m robotics_assets`: the few operations a user needs outside the UI.

  instance    render DAGSTER_HOME/dagster.yaml from the settings and print DAGSTER_HOME
  quickstart  materialize the whole chain for one task in one region, in this process, into the real instance
  backfill    submit a backfill of task × regions to the webserver (GraphQL `launchPartitionBackfill`, as the UI
              does); the daemon of `dg dev` runs it within the concurrency limits
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _instance(settings):
    import dagster as dg

    from robotics_assets.lib.instance import write_instance_config

    write_instance_config(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return dg.DagsterInstance.get()


def cmd_instance(args, settings) -> int:
    from robotics_assets.lib.instance import write_instance_config

    path = write_instance_config(settings)
    print(f"export DAGSTER_HOME={path.parent}")
    return 0


CHAIN = ["policy", "evaluation_report", "onnx_policy", "deployed_policy"]


def task_config_problem(settings, task: str) -> str | None:
    """Why `task` cannot be materialized (no such config, invalid name or content), or None."""
    from robotics_assets.lib.task_sources import (
        TaskConfigError,
        open_source,
        validate_task_config,
    )

    try:
        source = open_source(settings.task_configs)
        validate_task_config(task, source.read(task), location=source.location)
    except TaskConfigError as e:
        return str(e)
    return None


def cmd_quickstart(args, settings) -> int:
    import dagster as dg

    from robotics_assets.definitions import defs as load
    from robotics_assets.lib.partitions import REGION_DIM, TASK_DIM, task_partitions

    region = args.region or settings.regions[0]
    settings.region(region)  # clear error for an unknown region
    problem = task_config_problem(settings, args.task)
    if problem:  # before the instance gets a partition for a task that cannot exist
        print(f"quickstart: {problem}", file=sys.stderr)
        return 2
    instance = _instance(settings)
    defs = load()
    if args.task not in instance.get_dynamic_partitions(task_partitions.name):
        instance.add_dynamic_partitions(task_partitions.name, [args.task])

    def run(keys, partition):
        result = dg.materialize(
            list(defs.assets), selection=[dg.AssetKey(k) for k in keys], partition_key=str(partition),
            instance=instance, resources=defs.resources, raise_on_error=False,
        )
        if not result.success:
            print(f"quickstart: {', '.join(keys)} [{partition}] failed; see the run in the Dagster UI", file=sys.stderr)
        return result.success

    start = time.time()
    key = dg.MultiPartitionKey({TASK_DIM: args.task, REGION_DIM: region})
    ok = run(["task_config"], args.task) and run(CHAIN, key)
    meta = {}
    for asset in ["policy", "evaluation_report", "onnx_policy", "deployed_policy"]:
        recs = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(key)]), limit=1
        ).records
        if recs:
            meta[asset] = {k: getattr(v, "value", v) for k, v in recs[0].asset_materialization.metadata.items()}
    print()
    print(f"== {args.task} in {region}: {'done' if ok else 'FAILED'} in {time.time() - start:.0f} s ==")
    if "policy" in meta:
        p = meta["policy"]
        print(f"policy:            {p.get('checkpoint_uri')}  ({p.get('env_steps_per_s', 0):.0f} env-steps/s)")
    if "evaluation_report" in meta:
        r = meta["evaluation_report"]
        print(f"evaluation report: {r.get('report_path')}  (gate {'passed' if r.get('passed') else 'FAILED'})")
    if "onnx_policy" in meta:
        print(f"ONNX model:        {meta['onnx_policy'].get('onnx_uri')}")
    if "deployed_policy" in meta:
        d = meta["deployed_policy"]
        print(f"registry:          {d.get('model_uri')}  promoted={d.get('promoted')}: {d.get('reason')}")
    print(f"MLflow store:      {settings.mlflow_tracking_uri}")
    print(f"MLflow UI:         .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_tracking_uri} --port 5000")
    print(f"Dagster UI:        DAGSTER_HOME={settings.dagster_home} .venv/bin/dg dev")
    return 0 if ok else 1


BACKFILL_MUTATION = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { partitionKeys }
    ... on Error { message }
  }
}"""


class BackfillError(RuntimeError):
    """The webserver could not be reached or refused the backfill; the message says why and what to do."""


def submit_backfill(url: str, tasks: list[str], regions: list[str], assets: list[str], title: str | None = None,
                    timeout_s: float = 60) -> str:
    """Submit one backfill of tasks × regions through the webserver's GraphQL API (`launchPartitionBackfill`, what
    the UI's "Launch backfill" calls); the daemon runs it within the instance's concurrency limits."""
    import dagster as dg
    import requests

    from robotics_assets.lib.partitions import REGION_DIM, TASK_DIM

    partitions = [str(dg.MultiPartitionKey({TASK_DIM: t, REGION_DIM: r})) for t in tasks for r in regions]
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": [a]} for a in assets],
        "tags": [{"key": "robotics/tasks", "value": ",".join(tasks)[:200]}],
        "title": (title or f"{', '.join(tasks)} in {', '.join(regions)}")[:100],
    }
    endpoint = f"{url.rstrip('/')}/graphql"
    try:
        response = requests.post(endpoint, json={"query": BACKFILL_MUTATION, "variables": {"params": params}},
                                 timeout=timeout_s)
    except requests.RequestException as e:
        raise BackfillError(f"no Dagster webserver at {url} ({type(e).__name__}): start `dg dev` (or `dagster dev "
                            "-w workspace.yaml`) first, or pass --url") from None
    if not response.ok:
        raise BackfillError(f"{endpoint} answered HTTP {response.status_code}")
    body = response.json()
    if body.get("errors"):
        raise BackfillError(f"{endpoint}: {body['errors'][0].get('message')}")
    result = body["data"]["launchPartitionBackfill"]
    if result["__typename"] == "LaunchBackfillSuccess":
        return result["backfillId"]
    if result["__typename"] == "PartitionKeysNotFoundError":
        missing = sorted({key.split("|")[-1] for key in result.get("partitionKeys") or []} & set(tasks)) or tasks
        raise BackfillError(f"task {', '.join(missing)} has no partition yet (add task_configs/<task>.yaml and let "
                            "the sensor pick it up, or run quickstart)")
    raise BackfillError(f"{result['__typename']}: {result.get('message')}")


def cmd_backfill(args, settings) -> int:
    regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else settings.regions
    for r in regions:
        settings.region(r)
    assets = [a.strip() for a in args.assets.split(",") if a.strip()]
    unknown = [a for a in assets if a not in CHAIN]
    if unknown or not assets:
        print(f"backfill: --assets: {', '.join(unknown) or 'none given'} (allowed: {', '.join(CHAIN)})", file=sys.stderr)
        return 2
    try:
        backfill_id = submit_backfill(args.url, [args.task], regions, assets)
    except BackfillError as e:
        print(f"backfill: {e}", file=sys.stderr)
        return 2 if "no partition yet" in str(e) else 1
    print(f"backfill {backfill_id}: {','.join(assets)} for {args.task} in {', '.join(regions)} "
          f"(runs start when the daemon of `dg dev` / `dagster dev` runs them)")
    return 0


def cmd_sweep(args: argparse.Namespace, settings) -> int:
    """The trials a sweep file expands into, by the sweep sensor's own rules (nothing is launched)."""
    import json

    from robotics_assets.defs.tasks.resources import TaskConfigStore
    from robotics_assets.lib.sweep_files import SweepError

    try:
        sweep = TaskConfigStore().sweep(args.name)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    spec = sweep.spec
    print(f"sweep {sweep.name} (revision {sweep.sha256[:16]}): {len(sweep.trials)} trials of {spec.base}, "
          f"{spec.metric.direction} {spec.metric.name}, early stopping: {spec.early_stopping.rule}")
    for trial in sweep.trials:
        print(f"  {trial.name}  {trial.region:<12} {json.dumps(trial.params)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from robotics_assets.lib.settings import SettingsError, current_settings

    parser = argparse.ArgumentParser(prog="python -m robotics_assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("instance", help="render dagster.yaml into DAGSTER_HOME")
    q = sub.add_parser("quickstart", help="materialize task config -> deployed policy for one task in one region")
    q.add_argument("--task", default="cartpole")
    q.add_argument("--region", help="default: the first configured region")
    b = sub.add_parser("backfill", help="backfill a task across regions")
    b.add_argument("--task", required=True)
    b.add_argument("--regions", help="comma-separated; default: all configured regions")
    b.add_argument("--assets", default=",".join(CHAIN), help=f"comma-separated (default: {','.join(CHAIN)})")
    b.add_argument("--url", default=os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"),
                   help="the Dagster webserver (default: $DAGSTER_WEBSERVER_URL or http://127.0.0.1:3000)")
    w = sub.add_parser("sweep", help="list the trials of task_configs/sweeps/NAME.yaml (exit 2 when it is invalid)")
    w.add_argument("name")
    args = parser.parse_args(argv)
    try:
        settings = current_settings()
        return {"instance": cmd_instance, "quickstart": cmd_quickstart, "backfill": cmd_backfill,
                "sweep": cmd_sweep}[args.command](
            args, settings
        )
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
