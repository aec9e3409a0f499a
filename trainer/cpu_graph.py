"""Replay Isaac Lab's Newton physics step as a Warp CPU graph.

Isaac Lab 3.0 captures the whole `decimation x (actuators + solver substeps)` loop into one CUDA graph on GPUs but
runs it eagerly on CPU, where each env step then costs ~240 Python-side Warp kernel launches: at 512 Cartpole envs
the launch overhead, not the physics, is ~75 % of the step. Warp 1.17 records CPU launches into an API-capture graph
that `wp.capture_launch` replays in C++, so we let Isaac Lab take its own graph path on CPU too. The arithmetic is
the same kernels on the same arrays in the same order: results are bit-identical to eager stepping
(tests/trainer/test_cpu_graph.py), and Isaac Lab re-captures on every reset exactly as it does on CUDA.

Isaac Lab gates the graph path with `"cuda" in device`; the patch rewrites only those conditions in
`NewtonManager.step` / `_invalidate_graph` (a pinned isaaclab==3.0.0) and routes the capture through Warp's CPU
capture. If the sources ever differ from what we expect, it warns and leaves Isaac Lab untouched (eager stepping).
"""

from __future__ import annotations

import inspect
import logging
import textwrap

log = logging.getLogger(__name__)

_SWITCH = "_trainer_cpu_graph"  # injected into Isaac Lab's module: the patched conditions read it at each step
_PATCHED_METHODS = {
    "step": ('"cuda" in device', f'("cuda" in device or (device == "cpu" and {_SWITCH}["on"]))'),
    "_invalidate_graph": ('"cuda" not in device', f'("cuda" not in device and not (device == "cpu" and {_SWITCH}["on"]))'),
}
_state = {"patched": False}


def set_cpu_graph(enabled: bool) -> bool:
    """Switch Isaac Lab's Newton manager between graph replay and eager stepping on CPU; returns whether it is on.

    Call after `prepare_isaaclab_import()` and before the environment is created (the choice holds for the
    environments created after it, in this process).
    """
    if not enabled:
        if _state["patched"]:
            from isaaclab_newton.physics import newton_manager as nm

            getattr(nm, _SWITCH)["on"] = False
        return False
    if _state["patched"]:
        from isaaclab_newton.physics import newton_manager as nm

        getattr(nm, _SWITCH)["on"] = True
        return True
    import warp as wp
    from isaaclab_newton.physics import newton_manager as nm

    manager = nm.NewtonManager
    rewritten = {}
    for name, (old, new) in _PATCHED_METHODS.items():
        func = getattr(manager, name).__func__
        source = textwrap.dedent(inspect.getsource(func))
        if source.count(old) != 1 or not source.startswith("@classmethod\n"):
            log.warning("Isaac Lab's NewtonManager.%s is not the 3.0.0 code this patch knows: CPU physics stays "
                        "eager (slower, same results)", name)
            return False
        namespace: dict = {}
        padding = "\n" * inspect.getsourcelines(func)[1]  # tracebacks and profilers keep Isaac Lab's line numbers
        exec(compile(padding + source.replace(old, new).removeprefix("@classmethod\n"), nm.__file__, "exec"),  # noqa: S102
             nm.__dict__, namespace)
        rewritten[name] = classmethod(namespace[name])

    eager_capture = nm.NewtonQueries.capture_graph

    def capture_graph(device: str, capture_target, *, relaxed: bool = False):
        if str(device) != "cpu":
            return eager_capture(device, capture_target, relaxed=relaxed)
        with nm.NewtonQueries._paused_gc(), wp.ScopedCapture(device="cpu") as capture:
            capture_target()
        return capture.graph

    setattr(nm, _SWITCH, {"on": True})
    for name, method in rewritten.items():
        setattr(manager, name, method)
    nm.NewtonQueries.capture_graph = staticmethod(capture_graph)
    _state["patched"] = True
    return True
