"""Where does a tiny CUDA kernel's time go, and what does one PPO mini-batch step cost, eager, graphed or fused?

The PPO update of GPU Cartpole is ~150 tiny kernels per mini-batch step (a 4->32->32 MLP on 16,384 rows). Replaying
them from a CUDA graph removed the CPU launch cost but took less off the step than expected, so this measures, with
nothing but torch on the GPU:
  tiny      `x.add_(1)` launched N times eagerly vs N times inside one graph replay, at a few sizes: the CPU launch
            cost vs the GPU's own per-kernel cost
  step      a PPO mini-batch step of the same shape as skrl's (normaliser, Gaussian policy, clipped surrogate,
            clipped value loss, grad-norm clip, fused Adam): eager, one graph per step, and with the forward/loss
            compiled by torch.compile (Inductor fuses the element-wise chains, and AOTAutograd the backward) inside
            the same graph; the kernels each variant runs per step and the milliseconds per step
  clocks    nvidia-smi's view (P-state, SM clock, compute mode, MIG) before and after

    python bench/gpu_kernels.py --out kernels.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

import torch

QUERY = "name,driver_version,pstate,clocks.sm,clocks.max.sm,clocks.mem,compute_mode,mig.mode.current,power.draw"


def clocks() -> str:
    try:
        return subprocess.run(["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"


def _timed(fn, reps: int) -> float:
    """Seconds per call of `fn`, after warm-up, synchronised at both ends."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def tiny(n: int = 1000) -> dict:
    out = {}
    for numel in (1, 16384, 1 << 20):
        x = torch.zeros(numel, device="cuda")

        def eager(x=x):
            for _ in range(n):
                x.add_(1)

        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            eager()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            eager()
        out[numel] = {"eager_us_per_kernel": round(1e6 * _timed(eager, 5) / n, 2),
                      "graph_us_per_kernel": round(1e6 * _timed(graph.replay, 5) / n, 2)}
    return out


class Mlp(torch.nn.Module):
    def __init__(self, obs: int, out: int, hidden=(32, 32)) -> None:
        super().__init__()
        layers, width = [], obs
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ELU()]
            width = h
        self.net = torch.nn.Sequential(*layers, torch.nn.Linear(width, out))

    def forward(self, x):
        return self.net(x)


class PpoStep:
    """skrl PPO's mini-batch maths on a Cartpole-sized problem; `loss(batch, train)` is what may be compiled."""

    def __init__(self, rows: int, obs: int = 4, act: int = 1, dev: str = "cuda") -> None:
        self.policy, self.value = Mlp(obs, act).to(dev), Mlp(obs, 1).to(dev)
        self.log_std = torch.nn.Parameter(torch.zeros(act, device=dev))
        self.mean = torch.zeros(obs, device=dev)
        self.var = torch.ones(obs, device=dev)
        self.count = torch.ones((), device=dev)
        self.params = [*self.policy.parameters(), *self.value.parameters(), self.log_std]
        self.lr = torch.tensor(5e-4, device=dev)
        self.opt = torch.optim.Adam(self.params, lr=self.lr, fused=True, capturable=dev == "cuda")
        g = torch.Generator(device=dev).manual_seed(0)
        self.memory = [torch.randn(rows * 4, w, device=dev, generator=g) for w in (obs, act, 1, 1, 1, 1)]
        self.batch = [t[:rows].clone() for t in self.memory]
        self.totals = torch.zeros(3, device=dev)
        self.loss_fn = self.loss

    def loss(self, obs, act, old_logp, old_v, ret, adv, train: bool):
        if train:  # running mean/variance (skrl's RunningStandardScaler, parallel variance), in place
            m, v, n = obs.mean(0), obs.var(0), obs.shape[0]
            delta, total = m - self.mean, self.count + n
            m2 = self.var * self.count + v * n + delta ** 2 * self.count * n / total
            self.mean.add_(delta * n / total)
            self.var.copy_(m2 / total)
            self.count.copy_(total)
        x = torch.clamp((obs - self.mean) / (self.var.sqrt() + 1e-8), -5, 5)
        mu = torch.clamp(self.policy(x), -1, 1)
        log_std = torch.clamp(self.log_std, -20, 2)
        logp = (-((act - mu) ** 2) / (2 * torch.exp(2 * log_std)) - log_std - 0.9189385332046727).sum(-1, keepdim=True)
        ratio = torch.exp(logp - old_logp)
        policy_loss = -torch.min(adv * ratio, adv * torch.clip(ratio, 0.8, 1.2)).mean()
        entropy = -0.0 * (0.5 + 0.9189385332046727 + log_std).sum()
        predicted = self.value(x)
        predicted = old_v + torch.clip(predicted - old_v, -0.2, 0.2)
        value_loss = 2.0 * torch.nn.functional.mse_loss(ret, predicted)
        kl = ((ratio - 1) - (logp - old_logp)).mean().detach()
        return policy_loss, entropy, value_loss, kl

    def step(self, train: bool = False) -> None:
        policy_loss, entropy, value_loss, _ = self.loss_fn(*self.batch, train)
        (policy_loss + entropy + value_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
        self.opt.step()
        self.opt.zero_grad(set_to_none=False)
        self.totals.add_(torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach()]))

    def graph(self, steps: int = 1) -> torch.cuda.CUDAGraph:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                self.step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(steps):
                self.step()
        return graph


def kernels(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)


def step_variants(rows: int, reps: int = 200) -> dict:
    out: dict = {}
    ppo = PpoStep(rows)
    out["eager"] = {"kernels": kernels(ppo.step), "ms": round(1e3 * _timed(ppo.step, reps), 3)}
    g1 = ppo.graph(1)
    out["graph"] = {"kernels": kernels(g1.replay), "ms": round(1e3 * _timed(g1.replay, reps), 3)}
    g4 = ppo.graph(4)
    out["graph_4_steps"] = {"ms": round(1e3 * _timed(g4.replay, reps // 4) / 4, 3)}
    try:
        t0 = time.perf_counter()
        ppo.loss_fn = torch.compile(ppo.loss, fullgraph=True, dynamic=False)
        ppo.step()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
        gc = ppo.graph(1)
        out["compiled_graph"] = {"kernels": kernels(gc.replay), "ms": round(1e3 * _timed(gc.replay, reps), 3),
                                 "compile_s": round(compile_s, 1)}
        out["compiled_eager"] = {"kernels": kernels(ppo.step), "ms": round(1e3 * _timed(ppo.step, reps), 3)}
    except Exception as exc:  # noqa: BLE001 (a bench reports what failed and goes on)
        out["compiled_graph"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[16384, 65536])
    parser.add_argument("--out")
    args = parser.parse_args()
    report = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "clocks_before": clocks()}
    report["tiny"] = tiny()
    report["step"] = {rows: step_variants(rows) for rows in args.rows}
    report["clocks_after"] = clocks()
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
