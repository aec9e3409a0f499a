"""Isaac Lab's two runtimes of Isaac-Ant-Direct observe the same thing (trainer/warp_sensors.py).

Without the fixes, isaaclab 3.0.0's Warp runtime (`performance.env_frontend: warp`, what task_configs/ant_gpu.yaml
trains on) reads its feet joint-wrench sensor as 0 on every step, so policies trained there fail in the torch runtime.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from tests.trainer.cartpole_run import ROOT, trainer_env

ANT_CPU = ROOT / "tests" / "trainer" / "ant_cpu.yaml"
FEET = slice(28, 52)  # the 4 feet x (force, torque) of the 60 observations, after height/velocities/angles/joints


def test_warp_and_torch_runtime_observe_the_same_ant():
    proc = subprocess.run([sys.executable, "-m", "tests.trainer.runtime_probe", str(ANT_CPU), "8"], cwd=ROOT,
                          env=trainer_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = json.loads(proc.stdout.split("RESULT ", 1)[1])
    torch_obs, warp_obs = np.asarray(seen["torch"]), np.asarray(seen["warp"])  # [reset + 8 steps, 2 envs, 60]
    feet = np.abs(torch_obs[..., FEET]).max(axis=-1)
    assert (feet[[1, 2, 4, 5], 0] > 0.05).all() and (feet[1:, 1] > 0.05).all(), feet  # the feet carry the ant
    assert feet[3, 0] == 0  # env 0 hit its time limit in step 3: a just-reset env reads no pre-reset wrench
    np.testing.assert_allclose(warp_obs, torch_obs, atol=1e-5)  # every observation, the feet and the reset included
