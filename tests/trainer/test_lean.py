"""The sync-free PPO loop (trainer/lean.py) keeps skrl's learning maths and episode bookkeeping (CPU, no simulator)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from tests.trainer.spec_agent import spec_agent
from trainer.lean import EpisodeStats, make_lean

N_ENVS, ROLLOUTS = 64, 32


@pytest.mark.parametrize("capacity", [7, 50, 64])  # buffer folded several times / exactly once / at flush only
def test_episode_stats_match_a_plain_python_count(capacity):
    gen = torch.Generator().manual_seed(0)
    stats = EpisodeStats(8, "cpu", capacity=capacity)
    running = [0.0] * 8
    lengths = [0] * 8
    for interval in range(2):  # the second interval checks the episodes carried over the flush
        finished_returns, finished_lengths, instant, highest = [], [], [], []
        for _ in range(50):
            rewards = torch.rand(8, 1, generator=gen)
            terminated = torch.rand(8, 1, generator=gen) < 0.1
            truncated = torch.rand(8, 1, generator=gen) < 0.05
            stats.step(rewards, terminated, truncated)
            instant.append(rewards.mean().item())
            highest.append(rewards.max().item())
            for i in range(8):
                running[i] += rewards[i, 0].item()
                lengths[i] += 1
                if terminated[i, 0] or truncated[i, 0]:
                    finished_returns.append(running[i])
                    finished_lengths.append(lengths[i])
                    running[i], lengths[i] = 0.0, 0
        data = collections.defaultdict(list)
        stats.flush(data)
        assert finished_returns, "the random episodes must end at least once"
        assert data["Reward / Total reward (mean)"][0] == pytest.approx(np.mean(finished_returns), rel=1e-5)
        assert data["Reward / Total reward (min)"][0] == pytest.approx(min(finished_returns), rel=1e-5)
        assert data["Reward / Total reward (max)"][0] == pytest.approx(max(finished_returns), rel=1e-5)
        assert data["Episode / Total timesteps (mean)"][0] == pytest.approx(np.mean(finished_lengths))
        assert data["Episode / Total timesteps (min)"][0] == min(finished_lengths)
        assert data["Episode / Total timesteps (max)"][0] == max(finished_lengths)
        assert data["Reward / Instantaneous reward (mean)"][0] == pytest.approx(np.mean(instant), rel=1e-5)
        assert data["Reward / Instantaneous reward (max)"][0] == pytest.approx(max(highest))
    # flushed: the next interval starts empty, running episodes carry on
    again = collections.defaultdict(list)
    stats.flush(again)
    assert "Reward / Total reward (mean)" not in again


def _agent(lean: bool):
    agent = spec_agent("task_configs/cartpole.yaml", device="cpu", num_envs=N_ENVS, memory_size=ROLLOUTS,
                       agent={"learning_epochs": 2, "mini_batches": 1})  # full batch: the loss ignores sample order
    if lean:
        make_lean(agent, N_ENVS)
    agent.enable_training_mode(True)
    return agent


def _fill_and_update(agent) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(2)  # the policy's action sampling
    for t in range(ROLLOUTS):
        obs = torch.randn(N_ENVS, 4, generator=gen)
        with torch.no_grad():
            actions, _ = agent.act(obs, None, timestep=t, timesteps=ROLLOUTS)
        agent.record_transition(
            observations=obs, states=None, actions=actions, rewards=torch.randn(N_ENVS, 1, generator=gen),
            next_observations=obs, next_states=None,
            terminated=torch.rand(N_ENVS, 1, generator=gen) < 0.05, truncated=torch.zeros(N_ENVS, 1, dtype=torch.bool),
            infos={}, timestep=t, timesteps=ROLLOUTS,
        )
    agent.enable_models_training_mode(True)
    agent.update(timestep=ROLLOUTS, timesteps=ROLLOUTS)
    return {k: v.detach().clone() for k, v in agent.policy.state_dict().items()}


def test_lean_update_learns_exactly_what_skrl_learns():
    torch.manual_seed(0)
    stock = _agent(lean=False)
    torch.manual_seed(0)
    lean = _agent(lean=True)
    for name, value in stock.policy.state_dict().items():  # same initial weights
        assert torch.equal(value, lean.policy.state_dict()[name])
    initial = {k: v.detach().clone() for k, v in lean.policy.state_dict().items()}
    after_stock = _fill_and_update(stock)
    after_lean = _fill_and_update(lean)
    for name, value in after_stock.items():
        torch.testing.assert_close(after_lean[name], value, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(after_lean[n], v) for n, v in initial.items()), (
        "the update must change the policy, or the comparison proves nothing"
    )
    assert {"Loss / Policy loss", "Loss / Value loss", "Learning / Learning rate"} <= set(lean.tracking_data)


def test_lean_update_learns_exactly_what_skrl_learns_with_the_ant_agent():
    """Isaac Lab's Ant agent as task_configs/ant_gpu.yaml trains it: one shared policy/value network, 4 epochs of 2
    mini-batches (the same permutation: both draw it from the CPU generator), KL-adaptive rate stepped per epoch,
    rewards scaled by 0.6, value clipping, truncations without bootstrapping; three updates in a row."""
    obs_dim, act_dim, n_envs, rollouts = 60, 8, 64, 16

    def run(lean: bool):
        torch.manual_seed(0)
        agent = spec_agent("task_configs/ant_gpu.yaml", device="cpu", num_envs=n_envs, memory_size=rollouts, agent={},
                           obs_dim=obs_dim, act_dim=act_dim)
        assert agent.policy is agent.value and agent.cfg.mini_batches == 2 and agent.cfg.rewards_shaper is not None
        if lean:
            make_lean(agent, n_envs)
        agent.enable_training_mode(True)
        gen = torch.Generator().manual_seed(1)
        torch.manual_seed(2)
        rates = []
        for _ in range(3):
            for t in range(rollouts):
                obs = torch.randn(n_envs, obs_dim, generator=gen) * 3 + 1
                with torch.no_grad():
                    actions, _ = agent.act(obs, None, timestep=t, timesteps=rollouts)
                agent.record_transition(
                    observations=obs, states=None, actions=actions, rewards=torch.randn(n_envs, 1, generator=gen),
                    next_observations=torch.randn(n_envs, obs_dim, generator=gen), next_states=None,
                    terminated=torch.rand(n_envs, 1, generator=gen) < 0.05,
                    truncated=torch.rand(n_envs, 1, generator=gen) < 0.03, infos={}, timestep=t, timesteps=rollouts,
                )
            agent.enable_models_training_mode(True)
            agent.update(timestep=rollouts, timesteps=rollouts)
            agent.enable_models_training_mode(False)
            rates.append(agent.optimizer.param_groups[0]["lr"])
        state = {f"policy.{k}": v.detach().clone() for k, v in agent.policy.state_dict().items()}
        for name in ("_observation_preprocessor", "_value_preprocessor"):
            state.update({f"{name}.{k}": v.clone() for k, v in getattr(agent, name).state_dict().items()})
        state.update({f"memory.{k}": agent.memory.get_tensor_by_name(k).clone() for k in ("returns", "advantages")})
        return state, rates

    stock, stock_rates = run(lean=False)
    lean, lean_rates = run(lean=True)
    assert lean_rates == stock_rates and len(set(stock_rates)) == 3  # the rate moved after every update
    for name, value in stock.items():
        torch.testing.assert_close(lean[name], value, rtol=0, atol=0, msg=name)
