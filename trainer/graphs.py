"""CUDA graphs for the two hot paths of GPU PPO: the policy act (every env step) and the mini-batch gradient step.

At thousands of envs the PPO side of a training step is launch-bound: a 32x32 MLP's act is ~25 kernel launches and a
mini-batch step (forward, losses, backward, grad-norm clip, Adam) ~150, each costing the CPU several microseconds of
Python and driver work while the H100 idles. A CUDA graph replays the same kernels with one launch. The maths stays
skrl's (same preprocessors, distribution, losses, clipping and Adam); what changes is only *where* tensors live:
- graphs read and write fixed addresses, so inputs are copied into static buffers first, outputs are static buffers
  the caller must consume before the next replay (the train loop does), and skrl's RunningStandardScaler is switched
  to in-place updates of its running statistics (`make_in_place`; same values, kept addresses);
- Adam runs `fused=True, capturable=True` with its learning rate in a device tensor the graph reads, refreshed from
  the param group whenever the KL-adaptive scheduler changes it (`GraphedMiniBatch.sync_lr`);
- capturing needs warm-up steps (cuBLAS handles, Adam's state): they run on a snapshot of every parameter, buffer
  and optimizer tensor that is restored afterwards, so the first real step starts from exactly the pre-capture state.
Random sampling inside a graph draws from the same CUDA generator (graph-safe Philox offsets), so runs stay
reproducible; on the H100 a graphed run ended with the same numbers as the eager one (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from trainer.ppo_losses import ppo_losses, reduce_gradients

WARMUP_STEPS = 3


def _in_place_scaler_cls():
    from skrl.resources.preprocessors.torch import RunningStandardScaler

    class InPlaceRunningStandardScaler(RunningStandardScaler):
        """skrl's scaler with the running statistics updated in place (a graph keeps reading the same buffers)."""

        def _parallel_variance(self, input_mean, input_var, input_count) -> None:
            delta = input_mean - self.running_mean
            total_count = self.current_count + input_count
            m2 = (self.running_variance * self.current_count + input_var * input_count
                  + delta**2 * self.current_count * input_count / total_count)
            self.running_mean.add_(delta * input_count / total_count)
            self.running_variance.copy_(m2 / total_count)
            self.current_count.copy_(total_count)

    return InPlaceRunningStandardScaler


def make_in_place(agent: Any) -> None:
    """Switch the agent's RunningStandardScaler preprocessors to in-place updates (same numbers as skrl's)."""
    from skrl.resources.preprocessors.torch import RunningStandardScaler

    cls = _in_place_scaler_cls()
    for name in ("_observation_preprocessor", "_state_preprocessor", "_value_preprocessor"):
        pre = getattr(agent, name, None)
        if isinstance(pre, RunningStandardScaler) and type(pre) is RunningStandardScaler:
            pre.__class__ = cls


def unsupported_reason(agent: Any) -> str | None:
    """Why the mini-batch step of this agent cannot be graphed (None: it can)."""
    import torch

    cfg = agent.cfg
    if agent.device.type != "cuda":
        return "not a CUDA device"
    if cfg.mixed_precision:
        return "mixed precision (the grad scaler's inf checks are host-side)"
    if cfg.kl_threshold:
        return "kl_threshold early stopping (a host-side decision per mini-batch)"
    opt = agent.optimizer
    if not isinstance(opt, torch.optim.Adam) or len(opt.param_groups) != 1:
        return "the optimizer is not a single-group Adam"
    return None


def _module_tensors(agent: Any) -> list:
    mods = [agent.policy, agent.value, agent._observation_preprocessor, agent._state_preprocessor,
            agent._value_preprocessor]
    seen, out = set(), []
    for mod in mods:
        if not hasattr(mod, "state_dict"):
            continue
        for t in list(mod.parameters()) + list(mod.buffers()):
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
    return out


class _Snapshot:
    """Every tensor a training step mutates, cloned; `restore` writes them back in place (addresses unchanged)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.tensors = [(t, t.detach().clone()) for t in _module_tensors(agent)]
        self.opt_state = {id(p): {k: v.detach().clone() for k, v in st.items() if hasattr(v, "detach")}
                          for p, st in agent.optimizer.state.items()}

    def restore(self) -> None:
        import torch

        with torch.no_grad():
            for t, saved in self.tensors:
                t.copy_(saved)
            for p, st in self.agent.optimizer.state.items():
                saved = self.opt_state.get(id(p))
                for k, v in st.items():
                    if not hasattr(v, "copy_"):
                        continue
                    if saved is None:  # created by the warm-up: Adam's fresh state is all zeros (step 0)
                        v.zero_()
                    else:
                        v.copy_(saved[k])


class GraphedAct:
    """PPO.act for a fixed observation shape, replayed from a CUDA graph (training mode: actions, log-prob, values)."""

    def __init__(self, agent: Any, observations: Any, states: Any) -> None:
        import torch

        self.agent = agent
        self.obs = observations.detach().clone()
        self.states = None if states is None else states.detach().clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(WARMUP_STEPS):
                self._body()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.out = self._body()

    def _body(self):
        a = self.agent
        inputs = {"observations": a._observation_preprocessor(self.obs), "states": a._state_preprocessor(self.states)}
        actions, outputs = a.policy.act(inputs, role="policy")
        values, _ = a.value.act(inputs, role="value")
        return actions, outputs, a._value_preprocessor(values, inverse=True)

    def matches(self, observations: Any, states: Any) -> bool:
        return (observations.shape == self.obs.shape and observations.dtype == self.obs.dtype
                and (states is None) == (self.states is None))

    def __call__(self, observations: Any, states: Any):
        self.obs.copy_(observations)
        if states is not None:
            self.states.copy_(states)
        self.graph.replay()
        actions, outputs, values = self.out
        return actions, outputs, values


class GraphedMiniBatch:
    """One PPO mini-batch step (forward, clipped losses, backward, grad-norm clip, Adam) as two CUDA graphs:
    with the observation normaliser updating its statistics (first epoch, as skrl does) and without.

    `step(idx, first_epoch)` gathers the mini-batch rows into the static inputs (one kernel per tensor) and replays;
    losses accumulate on the device in `totals` and the epoch's KL in `kl_sum` (read once per epoch by the caller).
    In a distributed run each step is two graphs, forward/backward and clip/Adam, with skrl's gradient all-reduce
    (NCCL, eager) between them, so every rank applies the same mean gradient.
    """

    def __init__(self, agent: Any, flat: list, batch: int) -> None:
        import torch
        from skrl import config as skrl_config

        self.agent = agent
        self.split = skrl_config.torch.is_distributed
        self.params = list(agent.policy.parameters())
        if agent.value is not agent.policy:
            self.params += list(agent.value.parameters())
        self.inputs = [None if t is None else t.new_empty((batch, t.shape[-1])) for t in flat]
        self.totals = torch.zeros(3, device=agent.device)
        self.kl_sum = torch.zeros((), device=agent.device)
        self.std = torch.zeros((), device=agent.device)  # the policy's mean standard deviation after the last step
        opt = agent.optimizer
        group = opt.param_groups[0]
        self.lr = torch.tensor(float(group["lr"]), device=agent.device)
        for t, src in zip(self.inputs, flat):  # warm-up data: real rows, so no NaNs or infs in the dry runs
            if t is not None:
                t.copy_(src[:batch])

        snapshot = _Snapshot(agent)
        group["capturable"] = True  # a resumed checkpoint may have brought back an uncapturable group
        group["lr"] = self.lr  # the graphs read the rate from this tensor
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for i in range(WARMUP_STEPS):
                    opt.zero_grad(set_to_none=True)
                    self._forward_backward(train=i == 0)
                    self._reduce()
                    self._apply()
            torch.cuda.current_stream().wait_stream(stream)
            self.graphs = {}
            for train in (True, False):
                opt.zero_grad(set_to_none=True)
                if self.split:
                    first, second = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
                    with torch.cuda.graph(first):
                        self._forward_backward(train=train)
                    with torch.cuda.graph(second):
                        self._apply()
                    self.graphs[train] = (first, second)
                else:
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        self._forward_backward(train=train)
                        self._apply()
                    self.graphs[train] = (graph,)
        finally:
            group["lr"] = float(self.lr)  # the param group (checkpoints, the scheduler) keeps a plain float
            torch.cuda.synchronize()
            snapshot.restore()
            self.totals.zero_()
            self.kl_sum.zero_()

    def _forward_backward(self, train: bool) -> None:
        import torch

        policy_loss, entropy, value_loss, kl = ppo_losses(self.agent, *self.inputs, train=train)
        self.kl_sum.add_(kl)
        (policy_loss + entropy + value_loss).backward()
        self._losses = torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach()])

    def _reduce(self) -> None:
        if self.split:
            reduce_gradients(self.agent)

    def _apply(self) -> None:
        import torch

        a, cfg = self.agent, self.agent.cfg
        if cfg.grad_norm_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_norm_clip, foreach=True)
        a.optimizer.step()
        self.totals.add_(self._losses)
        self.std.copy_(a.policy.distribution(role="policy").stddev.detach().mean())

    def step(self, flat: list, idx: Any, first_epoch: bool) -> None:
        import torch

        for dst, src in zip(self.inputs, flat):
            if dst is not None:
                torch.index_select(src, 0, idx, out=dst)
        graphs = self.graphs[first_epoch]
        graphs[0].replay()
        if self.split:
            self._reduce()
            graphs[1].replay()

    def sync_lr(self) -> None:
        """Copy the param group's (scheduler-set) learning rate into the tensor the graphs read."""
        self.lr.fill_(float(self.agent.optimizer.param_groups[0]["lr"]))
