"""Make sensors work in Isaac Lab's Warp runtime (`performance.env_frontend: warp`): two isaaclab 3.0.0 defects.

Measured on CPU with Isaac-Ant-Direct (docs/benchmarks.md, "Ant: Warp vs torch runtime"): the two runtimes agree to
float precision in physics, rewards, terminations and 36 of the 60 observations, but in the Warp runtime the other 24,
the feet joint wrenches, are always 0. A policy trained there sees a zero-variance input that its scaler blows up to
+-5 in the torch runtime, and it falls (evaluated return 1.3 instead of 60). Two causes, both in how the Warp runtime
drives Isaac Lab's lazy sensors:

1. Every sensor of every env is reset on every step. The Warp env step resets by mask on every step
   (`_reset_idx(mask=reset_buf)`: isaaclab_experimental/envs/direct_rl_env_warp.py:489 -> :675), and
   `InteractiveSceneWarp.reset` hands the mask to the assets but calls `sensor.reset(env_ids)` with `env_ids=None`,
   i.e. all envs (isaaclab_experimental/envs/interactive_scene_warp.py:42-44). That zeroes each sensor's timestamps,
   and a sensor skips envs whose timestamp is 0 (isaaclab_newton/sensors/joint_wrench/kernels.py:44, so that a
   just-reset env never reads pre-reset physics): the readings stay at their reset value, 0.
   Isaac Lab's later sources pass the mask (isaac-sim/IsaacLab, source/isaaclab_experimental/isaaclab_experimental/
   envs/interactive_scene_warp.py: `sensor.reset(env_mask=env_mask)`); `mask_sensor_resets` does so here.
2. The sensor refresh is not in the captured step. A sensor recomputes its buffers when `.data` is read and its
   Python-side dirty flag is set; the observation stage (`_step_warp_end_post`) is captured by
   `WarpGraphCache.capture_or_replay` (isaaclab_experimental/utils/warp_graph_cache.py:66-69) after an eager warm-up
   call, which already cleared the flag, so the captured graph holds no refresh and every replay (CPU or CUDA) reads
   the buffers of the first step. With the scene's `lazy_sensor_update` off, `InteractiveScene.update` refreshes
   the sensors after each physics substep, in Python outside the graphs; the captured observation kernel reads them.
   That is the value the torch runtime reads lazily (no physics step happens in between).

With both, the Warp runtime's observations equal the torch runtime's (tests/trainer/test_warp_sensors.py).
"""

from __future__ import annotations

from typing import Any

_MARK = "_trainer_masks_sensor_resets"


def fix_warp_runtime_sensors(env_cfg: Any) -> None:
    """Apply both fixes; call with the task's env config before the Warp runtime's env is built.

    A scene without sensors (Cartpole) keeps Isaac Lab's lazy updates: nothing there to refresh.
    """
    from isaaclab.sensors import SensorBaseCfg

    if any(isinstance(value, SensorBaseCfg) for value in vars(env_cfg.scene).values()):
        env_cfg.scene.lazy_sensor_update = False
    mask_sensor_resets()


def mask_sensor_resets() -> None:
    """Patch `InteractiveSceneWarp.reset` to reset sensors only in the masked envs (idempotent).

    The assets are still reset by Isaac Lab's own code; where a later Isaac Lab already passes the mask, each masked
    sensor is still reset exactly once.
    """
    from isaaclab_experimental.envs.interactive_scene_warp import InteractiveSceneWarp

    original = InteractiveSceneWarp.reset
    if getattr(original, _MARK, False):
        return

    def reset(self: Any, env_ids: Any = None, env_mask: Any = None) -> None:
        if env_mask is None:  # an id-based reset: Isaac Lab's code hands the ids to the sensors
            return original(self, env_ids, env_mask)
        sensors = self._sensors
        self._sensors = {}  # hidden from Isaac Lab's reset, which would reset them in every env
        try:
            original(self, env_ids, env_mask=env_mask)
        finally:
            self._sensors = sensors
        for sensor in sensors.values():
            sensor.reset(env_ids, env_mask=env_mask)

    setattr(reset, _MARK, True)
    reset.__doc__ = original.__doc__
    InteractiveSceneWarp.reset = reset
