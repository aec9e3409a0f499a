"""ONNX export of a trained policy: observation normalizer + deterministic policy mean, checked with onnxruntime.

The exported graph is what a deployer runs on raw observations: `obs` (batch, obs_dim) -> `actions` (batch, act_dim),
the policy's mean action before the environment's action scaling. Everything else a deployer needs (action scale and
clip, the observation layout, where the model came from) rides in the model's ``metadata_props``, so the .onnx file
stands alone.

The export is all-or-nothing: the model is written to a temporary file next to the target, checked (ONNX checker,
then parity with ``agent.act(...)["mean_actions"]`` on at least 1,000 observations), and only then renamed into place.
No simulator is started: the agent is rebuilt on a spec-only environment that carries just the spaces.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.check_names import ONNX_PARITY

if TYPE_CHECKING:
    import numpy as np
    import torch

    from trainer.config import TaskConfig

ONNX_NAME = "policy.onnx"
SUMMARY_NAME = "export.json"
INPUT_NAME = "obs"
OUTPUT_NAME = "actions"
METADATA_PREFIX = "robotics."

# What each observation entry means, for the tasks we ship configs for; a deployer builds the input vector from it.
# Isaac Lab Cartpole: joint positions/velocities relative to the default pose (isaaclab_tasks cartpole_direct_env.py).
# Gymnasium MuJoCo: the documented observation spaces of the v5 environments.
OBSERVATION_LAYOUTS: dict[str, list[str]] = {
    "isaaclab:Isaac-Cartpole-Direct": ["cart_pos", "pole_angle", "cart_vel", "pole_ang_vel"],
    "gymnasium:InvertedPendulum-v5": ["cart_pos", "pole_angle", "cart_vel", "pole_ang_vel"],
    "gymnasium:InvertedDoublePendulum-v5": [
        "cart_pos", "sin_hinge1", "sin_hinge2", "cos_hinge1", "cos_hinge2",
        "cart_vel", "hinge1_ang_vel", "hinge2_ang_vel", "cart_constraint_force",
    ],
}


class ExportError(RuntimeError):
    """The export could not produce a model that matches the torch policy; nothing was written."""


@dataclass(frozen=True)
class PolicyIO:
    """The interface of the exported policy, as stored in the ONNX metadata."""

    observation_dim: int
    action_dim: int
    observation_layout: list[str]
    action_scale: float | None  # multiply the network output by this before applying it (Isaac Lab action_scale)
    action_low: list[float] | None  # the environment clips applied actions to [low, high] (None: unbounded)
    action_high: list[float] | None


@dataclass(frozen=True)
class ParityResult:
    observations: int
    max_abs_diff: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def deterministic_policy(agent: Any) -> torch.nn.Module:
    """A torch module equal to ``agent.act(obs)[1]["mean_actions"]`` in eval mode, suitable for ONNX tracing."""
    import torch

    class DeterministicPolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            pre = agent._observation_preprocessor  # RunningStandardScaler, or skrl's identity function
            self.normalizer = copy.deepcopy(pre) if isinstance(pre, torch.nn.Module) else None
            self.policy = copy.deepcopy(agent.policy)
            # skrl clamps the mean to the action space only when clip_mean_actions is set; mirror it exactly
            low, high = self.policy._g_min_actions, self.policy._g_max_actions
            self.clip = bool(self.policy._g_clip_mean_actions) and low is not None and high is not None
            if self.clip:
                self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32).clone())
                self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32).clone())

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            x = self.normalizer(obs) if self.normalizer is not None else obs
            mean, _ = self.policy.compute({"observations": x, "states": None}, role="policy")
            if self.clip:
                mean = torch.clamp(mean, min=self.low, max=self.high)
            return mean

    return DeterministicPolicy().eval()


def agent_reference(agent: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch policy the ONNX model must match: skrl's own deterministic action path."""
    import torch

    def mean_actions(obs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return agent.act(obs, None, timestep=0, timesteps=0)[1]["mean_actions"]

    return mean_actions


def export_onnx(module: torch.nn.Module, observation_dim: int, path: Path, *, opset: int) -> None:
    """Write `module` as ONNX at `opset` with a dynamic batch dimension.

    Uses torch's TorchScript-based exporter: for a small MLP it takes ~0.1 s and emits opset 17 natively, where the
    torch.export-based one (dynamo=True) takes 5-15 s on 2 cores and only converts down from opset 18. Should a torch
    release drop it, switch to dynamo=True with dynamic_shapes=({0: torch.export.Dim("batch")},); the parity check
    below guards either way.
    """
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "dynamo=False is deprecated": see the docstring
        torch.onnx.export(
            module,
            (torch.zeros(1, observation_dim),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )


def write_metadata(path: Path, props: dict[str, Any]) -> None:
    """Store `props` in the model's metadata_props, every value JSON-encoded (a deployer json-decodes them all)."""
    import onnx

    model = onnx.load(str(path))
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    onnx.save(model, str(path))


def ort_session(path: Path, *, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def parity_observations(agent: Any, observation_dim: int, count: int, *, seed: int) -> np.ndarray:
    """Observations spread over (and past) what the policy saw in training, so the normalizer's clip range is hit."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pre = getattr(agent, "_observation_preprocessor", None)
    if hasattr(pre, "running_mean"):
        mean = pre.running_mean.detach().cpu().double().numpy()
        std = np.sqrt(pre.running_variance.detach().cpu().double().numpy())
    else:
        mean, std = np.zeros(observation_dim), np.ones(observation_dim)
    scale = rng.choice([0.5, 1.0, 3.0, 8.0], size=(count, 1))  # 8 sigma lands beyond the scaler's +-5 clip
    return (mean + std * scale * rng.standard_normal((count, observation_dim))).astype(np.float32)


def check_parity(
    onnx_path: Path,
    reference: Callable[[torch.Tensor], torch.Tensor],
    observations: np.ndarray,
    *,
    tolerance: float,
) -> ParityResult:
    """Max abs difference between onnxruntime on `onnx_path` and the torch reference over `observations`."""
    import numpy as np
    import torch

    expected = reference(torch.from_numpy(observations)).detach().cpu().numpy()
    got = ort_session(onnx_path).run([OUTPUT_NAME], {INPUT_NAME: observations})[0]
    if got.shape != expected.shape:
        return ParityResult(len(observations), float("inf"), tolerance)
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    return ParityResult(len(observations), float(np.nan_to_num(diff, nan=np.inf).max()), tolerance)


def latency_percentiles(fn: Callable[[], Any], *, iterations: int, warmup: int = 20) -> dict[str, float]:
    """p50/p95/p99 wall time of `fn()` in milliseconds."""
    import numpy as np

    for _ in range(warmup):
        fn()
    samples = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples[i] = time.perf_counter_ns() - start
    p50, p95, p99 = np.percentile(samples, [50, 95, 99]) / 1e6
    return {"p50_ms": round(float(p50), 4), "p95_ms": round(float(p95), 4), "p99_ms": round(float(p99), 4)}


def measure_latency(
    module: torch.nn.Module, session: Any, observation_dim: int, batch_sizes: list[int], *, iterations: int, seed: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """{"torch"|"onnxruntime": {"batch_<n>": percentiles}} on CPU, the same inputs for both."""
    import torch

    result: dict[str, dict[str, dict[str, float]]] = {"torch": {}, "onnxruntime": {}}
    generator = torch.Generator().manual_seed(seed)
    for batch in batch_sizes:
        obs = torch.randn(batch, observation_dim, generator=generator)
        obs_np = obs.numpy()
        # fewer iterations for large batches: their spread is small and each call is long
        n = max(20, iterations // max(1, batch // 256))

        def run_torch(obs: torch.Tensor = obs) -> None:
            with torch.inference_mode():
                module(obs)

        def run_ort(obs_np: np.ndarray = obs_np) -> None:
            session.run([OUTPUT_NAME], {INPUT_NAME: obs_np})

        result["torch"][f"batch_{batch}"] = latency_percentiles(run_torch, iterations=n)
        result["onnxruntime"][f"batch_{batch}"] = latency_percentiles(run_ort, iterations=n)
    return result


def checkpoint_dims(checkpoint: Path, sha256: str) -> tuple[int, int]:
    """(observation_dim, action_dim) read from a (verified) skrl checkpoint's tensors."""
    from trainer.checkpoints import load

    modules = load(checkpoint, sha256)  # weights-only
    policy = modules.get("policy") or {}
    scaler = modules.get("observation_preprocessor") or {}
    if "running_mean" in scaler:
        obs_dim = int(scaler["running_mean"].shape[0])
    else:  # no normalizer: the first layer's input width
        obs_dim = next(int(t.shape[1]) for k, t in policy.items() if k.endswith("weight") and t.dim() == 2)
    if "log_std_parameter" not in policy:
        raise ExportError(f"{checkpoint}: no Gaussian policy (log_std_parameter) in the checkpoint; cannot export")
    return obs_dim, int(policy["log_std_parameter"].shape[-1])


@dataclass(frozen=True)
class TaskInterface:
    observation_space: Any
    action_space: Any
    action_scale: float | None


def task_interface(cfg: TaskConfig, observation_dim: int | None = None, action_dim: int | None = None) -> TaskInterface:
    """Spaces and action scale of the task without starting a simulator.

    Gymnasium: the env's own spaces (creating a MuJoCo env only loads its model). Isaac Lab direct tasks: the
    task's env config (resolved, never turned into a simulation) carries the space sizes and `action_scale`; their
    action spaces are unbounded. Sizes it does not state come from the checkpoint (`observation_dim`/`action_dim`).
    """
    import gymnasium as gym
    import numpy as np

    if cfg.family == "gymnasium":
        env = gym.make(cfg.task_id)
        try:
            return TaskInterface(env.observation_space, env.action_space, 1.0)
        finally:
            env.close()
    from trainer.isaaclab_compat import prepare_isaaclab_import

    prepare_isaaclab_import(cfg.device)
    from isaaclab_tasks.utils import resolve_task_config

    env_cfg, _ = resolve_task_config(cfg.task_id, None, overrides=[])
    obs = getattr(env_cfg, "observation_space", None)
    act = getattr(env_cfg, "action_space", None)
    obs_dim = obs if isinstance(obs, int) else observation_dim
    act_dim = act if isinstance(act, int) else action_dim
    if obs_dim is None or act_dim is None:
        raise ExportError(f"{cfg.task}: the env config does not state its space sizes; pass a checkpoint")
    scale = getattr(env_cfg, "action_scale", None)
    return TaskInterface(
        gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32),
        gym.spaces.Box(-np.inf, np.inf, (act_dim,), np.float32),
        float(scale) if isinstance(scale, (int, float)) else None,
    )


def spec_env(observation_space: Any, action_space: Any) -> Any:
    """A skrl-wrapped CPU env that only carries the spaces, enough to build the agent; it is never stepped."""
    import gymnasium as gym
    import numpy as np
    from skrl.envs.wrappers.torch import wrap_env

    class SpecEnv(gym.Env):
        def __init__(self) -> None:
            self.device = "cpu"  # skrl builds the agent on the env's device: export and parity run on CPU
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, observation_space.shape, np.float32)
            self.action_space = action_space

        def reset(self, *, seed=None, options=None):
            return np.zeros(self.observation_space.shape, np.float32), {}

        def step(self, action):
            return np.zeros(self.observation_space.shape, np.float32), 0.0, False, False, {}

    return wrap_env(SpecEnv(), wrapper="gymnasium", verbose=False)


def policy_io(cfg: TaskConfig, interface: TaskInterface) -> PolicyIO:
    """What a deployer must know around the network: input layout, action scaling and clipping."""
    import numpy as np

    obs_dim = int(interface.observation_space.shape[0])
    layout = OBSERVATION_LAYOUTS.get(cfg.task)
    if layout is None or len(layout) != obs_dim:
        layout = [f"obs_{i}" for i in range(obs_dim)]
    low, high = interface.action_space.low, interface.action_space.high
    bounded = bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)))
    return PolicyIO(
        observation_dim=obs_dim,
        action_dim=int(interface.action_space.shape[0]),
        observation_layout=layout,
        action_scale=interface.action_scale,
        action_low=[float(v) for v in low.reshape(-1)] if bounded else None,
        action_high=[float(v) for v in high.reshape(-1)] if bounded else None,
    )


@dataclass
class ExportResult:
    onnx_path: str
    onnx_sha256: str
    onnx_bytes: int
    opset: int
    checkpoint: str
    checkpoint_sha256: str
    parity: dict[str, Any]
    latency: dict[str, Any]
    io: dict[str, Any]
    export_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export(
    cfg: TaskConfig,
    run_dir: Path,
    out_dir: Path,
    *,
    checkpoint: Path | None = None,
    checkpoint_sha256: str | None = None,
    latency_iterations: int = 200,
    corrupt: Callable[[Path], None] | None = None,
) -> ExportResult:
    """Export the run's checkpoint (default: best) to out_dir/policy.onnx and write out_dir/export.json.

    `checkpoint_sha256`: the sha256 the checkpoint must have (recorded by the orchestrator), besides the manifest's.
    `corrupt` is a test seam: it edits the temporary model before the parity check, proving a bad graph is refused.
    """
    from trainer.files import atomic_path, sha256_file
    from trainer.trained_run import (
        agent_cfg_for_run,
        check_config_matches_run,
        restore_policy,
        verified_checkpoint,
    )

    started = time.perf_counter()
    path, sha256 = verified_checkpoint(run_dir, checkpoint, checkpoint_sha256)  # before anything unpickles it
    agent_cfg_for_run(cfg, run_dir)  # a tampered agent.yaml is refused before the simulator and torch.load
    check_config_matches_run(cfg, run_dir)
    obs_dim, act_dim = checkpoint_dims(path, sha256)
    interface = task_interface(cfg, obs_dim, act_dim)
    if tuple(interface.observation_space.shape) != (obs_dim,) or tuple(interface.action_space.shape) != (act_dim,):
        raise ExportError(
            f"{path}: checkpoint has observation/action sizes {obs_dim}/{act_dim} but {cfg.task} has "
            f"{interface.observation_space.shape}/{interface.action_space.shape}; wrong task config for this run?"
        )
    loaded = restore_policy(spec_env(interface.observation_space, interface.action_space), cfg, run_dir, path, sha256)
    agent = loaded.agent
    module = deterministic_policy(agent)
    io = policy_io(cfg, interface)
    opset = cfg.export.opset

    target = out_dir / ONNX_NAME
    with atomic_path(target, mode=0o644) as tmp:  # the model is meant to be shared
        export_onnx(module, obs_dim, tmp, opset=opset)
        write_metadata(tmp, _metadata(cfg, io, loaded, opset))
        if corrupt is not None:
            corrupt(tmp)
        _check_model(tmp)
        observations = parity_observations(agent, obs_dim, cfg.export.parity_observations, seed=cfg.seed)
        parity = check_parity(tmp, agent_reference(agent), observations, tolerance=cfg.export.max_abs_diff)
        if not parity.passed:
            raise ExportError(
                f"ONNX parity check failed: max abs diff {parity.max_abs_diff:.3g} over {parity.observations} "
                f"observations exceeds export.max_abs_diff={parity.tolerance:g}; no model was written"
            )
        latency = measure_latency(
            module, ort_session(tmp), obs_dim, cfg.export.latency_batch_sizes, iterations=latency_iterations
        )
        # export.json describes one model (its sha256): a reused out_dir's old one goes before the new model lands,
        # so a crash in between leaves a model without a summary, never a summary of another model
        (out_dir / SUMMARY_NAME).unlink(missing_ok=True)

    result = ExportResult(
        onnx_path=str(target),
        onnx_sha256=sha256_file(target),
        onnx_bytes=target.stat().st_size,
        opset=opset,
        checkpoint=str(loaded.checkpoint),
        checkpoint_sha256=loaded.checkpoint_sha256,
        parity={**asdict(parity), "passed": parity.passed},
        latency=latency,
        io=asdict(io),
        export_s=round(time.perf_counter() - started, 2),
    )
    _write_summary(out_dir / SUMMARY_NAME, result)
    return result


def _check_model(path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported model is not valid ONNX: {exc}; no model was written") from None


def _metadata(cfg: TaskConfig, io: PolicyIO, loaded: Any, opset: int) -> dict[str, Any]:
    import skrl
    import torch

    from trainer.run_dir import env_runtime

    props = {
        "task": cfg.task,
        # the Isaac Lab runtime the policy learned in (None: a gymnasium task): deploy it against that one
        "env_runtime": env_runtime(cfg),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "observation_dim": io.observation_dim,
        "action_dim": io.action_dim,
        "observation_layout": io.observation_layout,
        "observation_normalization": "embedded (skrl RunningStandardScaler, eval mode): feed raw observations",
        "action_semantics": "deterministic policy mean; applied action = clip(actions * action_scale, low, high)",
        "action_scale": io.action_scale,
        "action_clip_low": io.action_low,
        "action_clip_high": io.action_high,
        "checkpoint_sha256": loaded.checkpoint_sha256,
        "opset": opset,
        "torch_version": torch.__version__,
        "skrl_version": skrl.__version__,
    }
    return {METADATA_PREFIX + key: value for key, value in props.items()}


def _write_summary(path: Path, result: ExportResult) -> None:
    from trainer.files import atomic_write_text

    atomic_write_text(path, json.dumps(result.as_dict(), indent=2), mode=0o644)


def _parser() -> argparse.ArgumentParser:
    from trainer.trained_run import positive_int

    parser = argparse.ArgumentParser(prog="python -m trainer export", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="task config YAML")
    parser.add_argument("--run-dir", required=True, help="training run directory (has manifest.json) or its store URI")
    parser.add_argument("--checkpoint", help="checkpoint to export, path or store URI (default: the run's best)")
    parser.add_argument("--checkpoint-sha256", metavar="SHA256",
                        help="sha256 the checkpoint must have (the policy's recorded checkpoint_sha256); exit 2 if not")
    parser.add_argument("--out", required=True,
                        help="output folder for policy.onnx and export.json: a folder, file:// URI or Blob URL")
    parser.add_argument("--latency-iterations", type=positive_int, default=200, help="timed calls per batch size")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 on success, 2 on bad input, 1 when the export fails (e.g. parity)."""
    from trainer.config import load_task_config
    from trainer.pipes import pipes_session
    from trainer.storage import StorageError
    from trainer.storage.run_location import output_location, publish_outputs
    from trainer.trained_run import bad_input_errors, check_out_dir, localize_inputs

    args = _parser().parse_args(argv)
    with pipes_session() as pipes, contextlib.ExitStack() as stack:
        try:
            cfg = load_task_config(args.config)
            out = stack.enter_context(output_location(args.out))  # a store URL: a scratch folder, stored at the end
            check_out_dir(out.local_dir)
            run_dir, checkpoint = localize_inputs(args.run_dir, args.checkpoint, stack)
            result = export(
                cfg, run_dir, out.local_dir, checkpoint=checkpoint, checkpoint_sha256=args.checkpoint_sha256,
                latency_iterations=args.latency_iterations,
            )
            publish_outputs(out, SUMMARY_NAME)  # the model is verified in the store before it is reported
        except bad_input_errors() as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except StorageError as exc:  # the store failed after its retries (not bad input); its message has no secret
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            pipes.report_check(ONNX_PARITY, passed=False, metadata={"error": str(exc)})
            return 1
        onnx_uri = out.uri_for(ONNX_NAME)
        _report(pipes, result, onnx_uri=onnx_uri)
    print(json.dumps({"onnx": onnx_uri, "max_abs_diff": result.parity["max_abs_diff"]}))
    return 0


def _report(pipes: Any, result: ExportResult, *, onnx_uri: str) -> None:
    latency = {
        f"latency_{runtime}_{batch}_{pct}": value
        for runtime, by_batch in result.latency.items()
        for batch, percentiles in by_batch.items()
        for pct, value in percentiles.items()
    }
    numbers = {"max_abs_diff": result.parity["max_abs_diff"], "parity_observations": result.parity["observations"]}
    pipes.report_materialization(
        {
            "onnx_uri": onnx_uri,  # file:// locally, the blob's URL on a store: what deployed_policy fetches
            "onnx_sha256": result.onnx_sha256,
            "opset": result.opset,
            "checkpoint_sha256": result.checkpoint_sha256,
            **numbers,
            **latency,
        }
    )
    pipes.report_check(
        ONNX_PARITY, passed=result.parity["passed"], metadata={**numbers, "tolerance": result.parity["tolerance"]}
    )
