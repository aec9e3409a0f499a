"""CUDA graphs for the PPO act and mini-batch step (trainer/graphs.py) against the eager lean loop.

The CUDA tests run on the GPU machine (`pytest tests/trainer/test_graphs.py` there; docs/benchmarks.md records the
run); on CPU-only CI they skip, and the in-place scaler they rely on is checked on CPU.
"""

from __future__ import annotations

import pytest
import torch

from tests.trainer.spec_agent import spec_agent
from trainer.lean import make_lean

N_ENVS, ROLLOUTS = 256, 16
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def test_in_place_scaler_computes_what_skrl_computes_and_keeps_its_buffers():
    from skrl.resources.preprocessors.torch import RunningStandardScaler

    from trainer.graphs import _in_place_scaler_cls

    gen = torch.Generator().manual_seed(0)
    ref = RunningStandardScaler(4, device="cpu")
    ours = RunningStandardScaler(4, device="cpu")
    ours.__class__ = _in_place_scaler_cls()
    buffers = [ours.running_mean, ours.running_variance, ours.current_count]
    for _ in range(5):
        x = torch.randn(100, 4, generator=gen) * 3 + 1
        torch.testing.assert_close(ours(x, train=True), ref(x, train=True), rtol=0, atol=0)
    for mine, theirs in zip(buffers, [ref.running_mean, ref.running_variance, ref.current_count]):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert all(a is b for a, b in zip([ours.running_mean, ours.running_variance, ours.current_count], buffers))


def _agent(graphs: bool, epochs: int = 3, mini_batches: int = 4):
    agent = spec_agent("task_configs/cartpole_gpu.yaml", device="cuda", num_envs=N_ENVS, memory_size=ROLLOUTS,
                       agent={"rollouts": ROLLOUTS, "learning_epochs": epochs, "mini_batches": mini_batches})
    make_lean(agent, N_ENVS, cuda_graphs=graphs)
    agent.enable_training_mode(True)
    return agent


def _rollout_and_update(agent, seed: int) -> None:
    """The same transitions for every agent (log-probs and values included, as the act would have stored them)."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    for t in range(ROLLOUTS):
        obs = torch.randn(N_ENVS, 4, generator=gen, device="cuda") * 2
        actions = torch.randn(N_ENVS, 1, generator=gen, device="cuda")
        agent._current_log_prob = -0.9 - 0.5 * actions**2 + 0.1 * torch.randn(N_ENVS, 1, generator=gen, device="cuda")
        agent._current_values = torch.randn(N_ENVS, 1, generator=gen, device="cuda")
        agent.record_transition(
            observations=obs, states=None, actions=actions, rewards=torch.randn(N_ENVS, 1, generator=gen, device="cuda"),
            next_observations=obs, next_states=None,
            terminated=torch.rand(N_ENVS, 1, generator=gen, device="cuda") < 0.05,
            truncated=torch.zeros(N_ENVS, 1, dtype=torch.bool, device="cuda"),
            infos={}, timestep=t, timesteps=ROLLOUTS,
        )
    agent.enable_models_training_mode(True)
    agent.update(timestep=ROLLOUTS, timesteps=ROLLOUTS)


def _weights(agent) -> dict[str, torch.Tensor]:
    out = {f"policy.{k}": v.detach().clone() for k, v in agent.policy.state_dict().items()}
    out.update({f"obs.{k}": v.detach().clone() for k, v in agent._observation_preprocessor.state_dict().items()})
    out.update({f"value.{k}": v.detach().clone() for k, v in agent._value_preprocessor.state_dict().items()})
    return out


@cuda
def test_graphed_updates_learn_what_the_eager_loop_learns(monkeypatch):
    # the sample order is the only randomness the update draws; fix it so both loops see the same mini-batches
    monkeypatch.setattr(torch, "randperm", lambda n, device=None, **_: torch.arange(n, device=device).flip(0))
    torch.manual_seed(0)
    eager = _agent(graphs=False)
    torch.manual_seed(0)
    graphed = _agent(graphs=True)
    initial = _weights(graphed)
    for name, value in _weights(eager).items():
        assert torch.equal(value, initial[name])
    for seed in (1, 2, 3):  # the first update captures; the later ones replay on fresh data and a changed rate
        _rollout_and_update(eager, seed)
        _rollout_and_update(graphed, seed)
        for name, value in _weights(eager).items():
            torch.testing.assert_close(_weights(graphed)[name], value, rtol=2e-4, atol=1e-5, msg=name)
        assert eager.optimizer.param_groups[0]["lr"] == pytest.approx(graphed.optimizer.param_groups[0]["lr"])
        assert float(graphed._graphed_mini_batch.lr) == pytest.approx(graphed.optimizer.param_groups[0]["lr"])
    assert graphed._graphed_mini_batch is not None, "the graphed update was not used"
    assert any(not torch.allclose(_weights(graphed)[n], v) for n, v in initial.items())
    for key in ("Loss / Policy loss", "Loss / Value loss", "Policy / Standard deviation"):
        assert graphed.tracking_data[key][-1] == pytest.approx(eager.tracking_data[key][-1], rel=1e-3, abs=1e-6)
    lrs = [graphed.tracking_data["Learning / Learning rate"][i] for i in range(3)]
    assert isinstance(graphed.optimizer.param_groups[0]["lr"], float)  # checkpoints keep a plain float
    assert len(set(lrs)) > 1 or lrs[0] != 5e-4, "the KL-adaptive rate never moved: the lr path went untested"


@cuda
def test_graphed_act_samples_from_the_policy_it_replays():
    torch.manual_seed(0)
    agent = _agent(graphs=True)
    obs = torch.randn(N_ENVS, 4, device="cuda")
    with torch.no_grad():
        agent.act(obs, None, timestep=0, timesteps=1)  # captures
        obs2 = torch.randn(N_ENVS, 4, device="cuda") * 3
        actions, outputs = agent.act(obs2, None, timestep=1, timesteps=1)  # replays on new observations
        actions, log_prob, values = actions.clone(), agent._current_log_prob.clone(), agent._current_values.clone()
        agent._cuda_graphs = False  # the same agent, eagerly
        inputs = {"observations": agent._observation_preprocessor(obs2), "states": None}
        _, eager_out = agent.policy.act(inputs, role="policy")
        eager_values, _ = agent.value.act(inputs, role="value")
    torch.testing.assert_close(outputs["mean_actions"], eager_out["mean_actions"])
    torch.testing.assert_close(values, agent._value_preprocessor(eager_values, inverse=True))
    expected_logp = agent.policy.distribution(role="policy").log_prob(actions).sum(-1, keepdim=True)
    torch.testing.assert_close(log_prob, expected_logp, rtol=1e-5, atol=1e-5)
    assert actions.std() > 0.1, "the replay must sample, not return the mean"
