"""Sync-free PPO for GPU throughput: skrl's PPO with the host-device round trips taken off the hot path.

At 4096+ GPU environments skrl's stock PPO spends most of its time waiting on the GPU, not computing: every env step
calls `.item()` three times for reward statistics, `nonzero().tolist()` for finished episodes and `.any()` for
time-limit bootstrapping, and every mini-batch `.item()`s its losses and indexes GPU memory with a CPU permutation
(a blocking host-to-device copy). Each of those drains the CUDA queue, so the CPU can never run ahead of the GPU.

`make_lean(agent)` turns a skrl PPO agent into one that keeps all of that on the device and synchronises once per
write interval (episode statistics) and once per learning epoch (the KL-adaptive learning rate, which must reach
the optimizer as a Python float). The maths is skrl's own (same GAE, losses, clipping, preprocessors, schedule), with
two documented differences in *bookkeeping*, not learning:
- episode return/length statistics are the mean/min/max over every episode that ended in the write interval (skrl
  keeps the last 100 episodes and averages per step; with thousands of envs the interval-wide value is the more
  faithful number);
- Adam runs its fused CUDA kernel (`fused=True`) with the same hyper-parameters.
On CPU the changes are harmless (there is no queue to drain); `performance.lean` in the task config turns it on, and
`performance.cuda_graphs` (CUDA only) replays the act and each mini-batch step as CUDA graphs (trainer/graphs.py),
falling back to these eager methods with a warning if a capture fails. In a distributed run (trainer/distributed.py)
gradients and the KL are averaged over the ranks, as skrl's own PPO does.
"""

from __future__ import annotations

import itertools
from typing import Any

from trainer import graphs
from trainer.ppo_losses import ppo_losses, reduce_gradients

RETURN = "Reward / Total reward"
LENGTH = "Episode / Total timesteps"
INSTANT = "Reward / Instantaneous reward"


class EpisodeStats:
    """Episode returns/lengths and instantaneous rewards of a write interval, kept on the device.

    `step` only copies the step's rewards and done flags into a [capacity, num_envs] buffer (two small copies: the
    per-step cost that matters at thousands of envs is the number of kernel launches, not their size); `_fold` turns
    a full buffer into interval aggregates with a handful of vectorised ops (cumulative sums, segmented by the done
    flags), carrying unfinished episodes over; `flush` folds and syncs once.
    """

    def __init__(self, num_envs: int, device: Any, capacity: int = 32) -> None:
        import torch

        self.torch = torch
        self.rewards = torch.zeros(capacity, num_envs, device=device)
        self.dones = torch.zeros(capacity, num_envs, dtype=torch.bool, device=device)
        self.steps = torch.arange(capacity, device=device).unsqueeze(1)
        self.n = 0
        # unfinished episodes carried between folds; float64 so that a return taken as a difference of running sums
        # keeps float32's precision however long the episode has run
        self.ret = torch.zeros(num_envs, device=device, dtype=torch.float64)
        self.len = torch.zeros(num_envs, device=device)
        # [sum, count, min, max] for returns, [sum, min, max] for lengths; instant reward [sum of means, min, max, steps]
        inf = float("inf")
        self.acc = torch.tensor([0.0, 0.0, inf, -inf, 0.0, inf, -inf], device=device)
        self.inst = torch.tensor([0.0, inf, -inf, 0.0], device=device)

    def step(self, rewards: Any, terminated: Any, truncated: Any) -> None:
        if self.n == self.rewards.shape[0]:
            self._fold()
        self.rewards[self.n].copy_(rewards.view(-1))
        self.torch.logical_or(terminated.view(-1), truncated.view(-1), out=self.dones[self.n])
        self.n += 1

    def _fold(self) -> None:
        torch, count = self.torch, self.n
        if not count:
            return
        inf = float("inf")
        r, done, t = self.rewards[:count], self.dones[:count], self.steps[:count]
        cum = self.ret + r.double().cumsum(0)  # return of the episode running at t, as if it never reset in the window
        last_done = torch.where(done, t, -1).cummax(0).values  # last reset at or before t
        prev = torch.cat([torch.full_like(last_done[:1], -1), last_done[:-1]])  # last reset strictly before t
        started_here = prev >= 0
        ret = (cum - torch.where(started_here, cum.gather(0, prev.clamp(min=0)), 0.0)).float()
        length = torch.where(started_here, t - prev, self.len + t + 1).float()
        finished = done.float()
        zero = r.new_zeros(())  # made on the device: a host tensor here would be a blocking copy
        self.acc += torch.stack([(ret * finished).sum(), finished.sum(), zero, zero, (length * finished).sum(), zero,
                                 zero])
        self.acc[2] = torch.minimum(self.acc[2], torch.where(done, ret, inf).min())
        self.acc[3] = torch.maximum(self.acc[3], torch.where(done, ret, -inf).max())
        self.acc[5] = torch.minimum(self.acc[5], torch.where(done, length, inf).min())
        self.acc[6] = torch.maximum(self.acc[6], torch.where(done, length, -inf).max())
        self.inst += torch.stack([r.mean(1).sum(), zero, zero, zero + count])
        self.inst[1] = torch.minimum(self.inst[1], r.min())
        self.inst[2] = torch.maximum(self.inst[2], r.max())
        last = last_done[-1]
        ended = last >= 0
        self.ret = torch.where(ended, cum[-1] - cum.gather(0, last.clamp(min=0).unsqueeze(0))[0], cum[-1])
        self.len = torch.where(ended, (count - 1 - last).float(), self.len + count)
        self.n = 0

    def flush(self, tracking_data: Any) -> None:
        """Move the interval's aggregates into skrl's `tracking_data` (same keys skrl uses) and reset them."""
        self._fold()
        ret_sum, count, ret_min, ret_max, len_sum, len_min, len_max = self.acc.tolist()
        inst_sum, inst_min, inst_max, steps = self.inst.tolist()
        if steps:
            tracking_data[f"{INSTANT} (mean)"].append(inst_sum / steps)
            tracking_data[f"{INSTANT} (min)"].append(inst_min)
            tracking_data[f"{INSTANT} (max)"].append(inst_max)
        if count:
            tracking_data[f"{RETURN} (mean)"].append(ret_sum / count)
            tracking_data[f"{RETURN} (min)"].append(ret_min)
            tracking_data[f"{RETURN} (max)"].append(ret_max)
            tracking_data[f"{LENGTH} (mean)"].append(len_sum / count)
            tracking_data[f"{LENGTH} (min)"].append(len_min)
            tracking_data[f"{LENGTH} (max)"].append(len_max)
        inf = float("inf")
        self.acc.copy_(self.torch.tensor([0.0, 0.0, inf, -inf, 0.0, inf, -inf]))
        self.inst.copy_(self.torch.tensor([0.0, inf, -inf, 0.0]))


def _lean_methods():
    """The overriding methods, built lazily so importing this module never imports torch or skrl."""
    import torch
    from skrl import config as skrl_config
    from skrl.agents.torch.ppo.ppo import compute_gae
    from skrl.resources.schedulers.torch import KLAdaptiveLR


    def act(self, observations, states, *, timestep, timesteps):
        if not (self._cuda_graphs and self.training):
            return super(type(self), self).act(observations, states, timestep=timestep, timesteps=timesteps)
        graph = self._graphed_act
        if graph is None or not graph.matches(observations, states):
            try:
                graph = self._graphed_act = graphs.GraphedAct(self, observations, states)
            except Exception as exc:  # noqa: BLE001 (an optimisation must never stop a training: warn, go on eagerly)
                _graphs_off(self, f"capturing the policy act failed ({type(exc).__name__}: {exc})")
                return super(type(self), self).act(observations, states, timestep=timestep, timesteps=timesteps)
        actions, outputs, values = graph(observations, states)
        self._current_log_prob = outputs["log_prob"]  # static graph outputs, consumed before the next replay
        self._current_values = values
        return actions, outputs

    def record_transition(self, *, observations, states, actions, rewards, next_observations, next_states,
                          terminated, truncated, infos, timestep, timesteps):
        if self.write_interval > 0:
            self._episode_stats.step(rewards, terminated, truncated)
        if not self.training:
            return
        self._current_next_observations = next_observations
        self._current_next_states = next_states
        if self.cfg.rewards_shaper is not None:
            rewards = self.cfg.rewards_shaper(rewards, timestep, timesteps)
        if self.cfg.time_limit_bootstrap:  # for every env, masked: cheaper than asking the GPU whether any truncated
            with torch.no_grad():
                inputs = {"observations": self._observation_preprocessor(next_observations),
                          "states": self._state_preprocessor(next_states)}
                next_values, _ = self.value.act(inputs, role="value")
                next_values = self._value_preprocessor(next_values, inverse=True)
            rewards = rewards + self.cfg.discount_factor * next_values * truncated
        self.memory.add_samples(
            observations=observations, states=states, actions=actions, rewards=rewards, terminated=terminated,
            truncated=truncated, log_prob=self._current_log_prob, values=self._current_values,
        )

    def post_interaction(self, *, timestep, timesteps):
        step = timestep + 1
        due = step > 1 and (
            (self.checkpoint_interval > 0 and not step % self.checkpoint_interval)
            or (self.write_interval > 0 and not step % self.write_interval)
        )
        if due:  # skrl reads tracking_data to pick the best checkpoint, so flush before it looks
            self._episode_stats.flush(self.tracking_data)
        super(type(self), self).post_interaction(timestep=timestep, timesteps=timesteps)  # PPO's: update, then save

    def update(self, *, timestep, timesteps):
        cfg = self.cfg
        distributed = skrl_config.torch.is_distributed
        with torch.no_grad(), torch.autocast(device_type=self._device_type, enabled=cfg.mixed_precision):
            inputs = {"observations": self._observation_preprocessor(self._current_next_observations),
                      "states": self._state_preprocessor(self._current_next_states)}
            self.value.enable_training_mode(False)
            last_values, _ = self.value.act(inputs, role="value")
            self.value.enable_training_mode(True)
            last_values = self._value_preprocessor(last_values, inverse=True)
        memory = self.memory
        values = memory.get_tensor_by_name("values")
        returns, advantages = compute_gae(
            rewards=memory.get_tensor_by_name("rewards"), terminated=memory.get_tensor_by_name("terminated"),
            truncated=memory.get_tensor_by_name("truncated"), values=values, last_values=last_values,
            discount_factor=cfg.discount_factor, lambda_coefficient=cfg.gae_lambda,
            time_limit_bootstrap=cfg.time_limit_bootstrap,
        )
        memory.set_tensor_by_name("values", self._value_preprocessor(values, train=True))
        memory.set_tensor_by_name("returns", self._value_preprocessor(returns, train=True))
        memory.set_tensor_by_name("advantages", advantages)

        flat = [memory.tensors.get(n) for n in self._tensors_names]  # "states" is absent without a state space
        flat = [t.reshape(-1, t.shape[-1]) if t is not None else None for t in flat]
        size = flat[0].shape[0]
        batch = size // cfg.mini_batches
        totals = torch.zeros(3, device=self.device)
        params = list(itertools.chain(self.policy.parameters(), self.value.parameters()))
        if self.policy is self.value:
            params = list(self.policy.parameters())
        steps = 0
        graphed = _graphed_mini_batch(self, flat, batch)
        if graphed is not None:
            graphed.totals.zero_()
            for epoch in range(cfg.learning_epochs):
                graphed.kl_sum.zero_()
                perm = torch.randperm(size, device=flat[0].device)
                for k in range(cfg.mini_batches):
                    graphed.step(flat, perm[k * batch:(k + 1) * batch], first_epoch=not epoch)
                    steps += 1
                if self.scheduler:
                    step_scheduler(self, graphed.kl_sum / cfg.mini_batches)
                    graphed.sync_lr()
            totals = graphed.totals
        for epoch in range(cfg.learning_epochs if graphed is None else 0):
            kls = []
            perm = torch.randperm(size, device=flat[0].device)  # on the device: no blocking host copy
            for k in range(cfg.mini_batches):
                idx = perm[k * batch:(k + 1) * batch]
                batch_rows = [t[idx] if t is not None else None for t in flat]
                with torch.autocast(device_type=self._device_type, enabled=cfg.mixed_precision):
                    policy_loss, entropy, value_loss, kl = ppo_losses(self, *batch_rows, train=not epoch)
                kls.append(kl)
                if cfg.kl_threshold and kl > cfg.kl_threshold:  # opt-in early stop: one sync
                    break
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(policy_loss + entropy + value_loss).backward()
                if distributed:
                    reduce_gradients(self)
                if cfg.grad_norm_clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_norm_clip, foreach=True)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                totals += torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach()])
                steps += 1
            if self.scheduler:
                step_scheduler(self, torch.stack(kls).mean())
        policy_l, value_l, entropy_l = (totals / max(steps, 1)).tolist()
        self.track_data("Loss / Policy loss", policy_l)
        self.track_data("Loss / Value loss", value_l)
        if cfg.entropy_loss_scale:
            self.track_data("Loss / Entropy loss", entropy_l)
        std = graphed.std if graphed is not None else self.policy.distribution(role="policy").stddev.mean()
        self.track_data("Policy / Standard deviation", std.item())
        if self.scheduler:
            self.track_data("Learning / Learning rate", self.scheduler.get_last_lr()[0])

    def step_scheduler(self, kl):
        """One learning-rate step per epoch; `kl` is the epoch's mean KL on the device."""
        if isinstance(self.scheduler, KLAdaptiveLR):
            if skrl_config.torch.is_distributed:  # every rank must take the same learning-rate step
                torch.distributed.all_reduce(kl, op=torch.distributed.ReduceOp.SUM)
                kl /= skrl_config.torch.world_size
            self.scheduler.step(kl.item())  # the one sync per epoch
        else:
            self.scheduler.step()

    return {"act": act, "record_transition": record_transition, "post_interaction": post_interaction,
            "update": update}


def _graphs_off(agent: Any, why: str, *, update_only: bool = False) -> None:
    import warnings

    if update_only:
        agent._graphed_update_failed = True
    else:
        agent._cuda_graphs = False
    warnings.warn(f"CUDA graphs off, training continues eagerly: {why}", RuntimeWarning, stacklevel=2)


def _graphed_mini_batch(agent: Any, flat: list, batch: int) -> Any:
    """The agent's graphed mini-batch step (captured on first use), or None where the eager loop must run."""
    if not agent._cuda_graphs or agent._graphed_update_failed:
        return None

    graphed = agent._graphed_mini_batch
    if graphed is not None and graphed.inputs[0].shape[0] == batch:
        return graphed
    reason = graphs.unsupported_reason(agent)
    if reason is not None:
        if not agent._graphs_noted:
            print(f"[trainer] PPO mini-batch step runs eagerly: {reason}", flush=True)
            agent._graphs_noted = True
        return None
    try:
        agent._graphed_mini_batch = graphs.GraphedMiniBatch(agent, flat, batch)
    except Exception as exc:  # noqa: BLE001 (the capture restored the state; go on eagerly)
        _graphs_off(agent, f"capturing the PPO mini-batch step failed ({type(exc).__name__}: {exc})",
                    update_only=True)
        return None
    return agent._graphed_mini_batch


def make_lean(agent: Any, num_envs: int, cuda_graphs: bool = False) -> Any:
    """Switch a constructed skrl PPO agent (before training starts) to the sync-free methods above; returns it.

    `cuda_graphs` (CUDA devices only) replays the act and the mini-batch step as CUDA graphs (trainer/graphs.py).
    """
    import torch
    from skrl.agents.torch.ppo import PPO


    if not isinstance(agent, PPO):
        raise TypeError(f"the lean loop supports skrl PPO agents only, got {type(agent).__name__}")
    lean_cls = type(f"Lean{type(agent).__name__}", (type(agent),), _lean_methods())
    agent.__class__ = lean_cls
    agent._episode_stats = EpisodeStats(num_envs, agent.device, capacity=max(agent.write_interval, 1))
    agent._cuda_graphs = bool(cuda_graphs) and agent.device.type == "cuda"
    agent._graphed_act = agent._graphed_mini_batch = None
    agent._graphs_noted = agent._graphed_update_failed = False
    if agent._cuda_graphs:
        graphs.make_in_place(agent)
    if agent.device.type == "cuda" and isinstance(agent.optimizer, torch.optim.Adam):
        # fused Adam: one kernel for all parameters instead of several per tensor; same update rule
        old = agent.optimizer
        group = old.param_groups[0]
        fused = torch.optim.Adam([p for g in old.param_groups for p in g["params"]], lr=group["lr"],
                                 betas=group["betas"], eps=group["eps"], weight_decay=group["weight_decay"],
                                 fused=True, capturable=agent._cuda_graphs)
        fused.load_state_dict(old.state_dict())
        for g in fused.param_groups:  # load_state_dict brought back the old groups' flags
            g["fused"], g["capturable"] = True, agent._cuda_graphs
        agent.optimizer = fused
        agent.checkpoint_modules["optimizer"] = fused
        if agent.scheduler is not None:
            agent.scheduler.optimizer = fused
    return agent
