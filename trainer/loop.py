"""The training loop: skrl 2.1's single-agent `Trainer.train()` with a start offset.

skrl 2.1's `SequentialTrainer.train()` always loops `range(cfg.timesteps)` and has no way to start at a later
timestep, so `train_loop` is its loop with a start offset (same calls, same order). Saving and logging are not
here: they are skrl's `write_checkpoint` / `write_tracking_data` hooks, replaced by trainer/writers.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.preemption import GracefulStop


def _writes_next(agent: Any, timestep: int) -> bool:
    """Whether skrl's post_interaction for `timestep` writes tracking data (or a checkpoint, which reads it)."""
    step = timestep + 1
    return step > 1 and any(
        interval > 0 and not step % interval for interval in (agent.write_interval, agent.checkpoint_interval)
    )


def train_loop(trainer: Any, agent: Any, state: Any, start: int, stop: GracefulStop | None = None) -> bool:
    """skrl 2.1 `Trainer.train()` (single agent) starting at `start` instead of 0.

    With `stop` (trainer/preemption.py), a requested stop ends the loop at the next PPO update boundary, right after
    the update; returns whether it stopped early (`state.timestep` is where).
    """
    import torch
    from skrl.utils import ScopedTimer

    env, timesteps, env_info = trainer.env, trainer.cfg.timesteps, trainer.cfg.environment_info
    rollouts = agent.cfg.rollouts
    lean = hasattr(agent, "_episode_stats")  # trainer/lean.py: no per-step `.item()` either
    # non-zero ranks of a distributed run log nothing (skrl zeroes their intervals): collect no env info there
    logs_info = agent.write_interval > 0 or agent.checkpoint_interval > 0
    pending_info: dict[str, list] = {}
    agent.enable_training_mode(True)
    observations, infos = env.reset()
    states = env.state()
    for timestep in range(start, timesteps):
        agent.pre_interaction(timestep=timestep, timesteps=timesteps)
        with torch.no_grad():
            with ScopedTimer() as timer:
                actions, _ = agent.act(observations, states, timestep=timestep, timesteps=timesteps)
                agent.track_data("Stats / Inference time (ms)", timer.elapsed_time_ms)
            with ScopedTimer() as timer:
                next_observations, rewards, terminated, truncated, infos = env.step(actions)
                next_states = env.state()
                agent.track_data("Stats / Env stepping time (ms)", timer.elapsed_time_ms)
            agent.record_transition(
                observations=observations,
                states=states,
                actions=actions,
                rewards=rewards,
                next_observations=next_observations,
                next_states=next_states,
                terminated=terminated,
                truncated=truncated,
                infos=infos,
                timestep=timestep,
                timesteps=timesteps,
            )
            if logs_info and env_info in infos:
                for k, v in infos[env_info].items():
                    if isinstance(v, torch.Tensor) and v.numel() == 1:
                        if lean:  # keep it on the device; summarised once per write interval
                            pending_info.setdefault(k if "/" in k else f"Info / {k}", []).append(v.detach())
                        else:
                            agent.track_data(k if "/" in k else f"Info / {k}", v.item())
            if pending_info and _writes_next(agent, timestep):
                for key, values in pending_info.items():
                    agent.track_data(key, torch.stack(values).float().mean().item())
                pending_info.clear()
        state.timestep = timestep + 1  # what a checkpoint written in post_interaction resumes from
        agent.post_interaction(timestep=timestep, timesteps=timesteps)
        observations, states = next_observations, next_states
        # after the update (post_interaction ran it): every module is as a checkpoint of this step would hold it
        if stop is not None and not agent._rollout % rollouts and timestep + 1 < timesteps and stop.due():
            return True
    return False
