"""skrl PPO's losses for one mini-batch and the gradient all-reduce: the one copy the eager lean loop
(trainer/lean.py) and the CUDA-graphed mini-batch step (trainer/graphs.py) share."""

from __future__ import annotations

from typing import Any


def reduce_gradients(agent: Any) -> None:
    """skrl's own all-reduce of the gradients in place: every rank gets the mean over the ranks."""
    agent.policy.reduce_parameters()
    if agent.value is not agent.policy:
        agent.value.reduce_parameters()


def ppo_losses(agent: Any, obs: Any, sts: Any, act: Any, old_logp: Any, old_v: Any, ret: Any, adv: Any, *,
               train: bool) -> tuple:
    """skrl PPO's losses for one mini-batch: (clipped policy loss, entropy loss, value loss, KL to the old policy).

    The one copy the eager loop and the CUDA graph (trainer/graphs.py) share; `train` updates the observation
    normaliser's statistics (skrl does so in the first epoch).
    """
    import torch
    import torch.nn.functional as F

    cfg = agent.cfg
    inputs = {"observations": agent._observation_preprocessor(obs, train=train),
              "states": agent._state_preprocessor(sts, train=train)}
    _, outputs = agent.policy.act({**inputs, "taken_actions": act}, role="policy")
    logp = outputs["log_prob"]
    with torch.no_grad():
        log_ratio = logp - old_logp
        kl = ((torch.exp(log_ratio) - 1) - log_ratio).mean()
    entropy = (-cfg.entropy_loss_scale * agent.policy.get_entropy(role="policy").mean()
               if cfg.entropy_loss_scale else torch.zeros((), device=agent.device))
    ratio = torch.exp(logp - old_logp)
    policy_loss = -torch.min(adv * ratio, adv * torch.clip(ratio, 1 - cfg.ratio_clip, 1 + cfg.ratio_clip)).mean()
    predicted, _ = agent.value.act(inputs, role="value")
    if cfg.value_clip > 0:
        predicted = old_v + torch.clip(predicted - old_v, min=-cfg.value_clip, max=cfg.value_clip)
    value_loss = cfg.value_loss_scale * F.mse_loss(ret, predicted)
    return policy_loss, entropy, value_loss, kl
