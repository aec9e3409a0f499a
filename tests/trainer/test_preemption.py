"""trainer/preemption.py in-process: what a signal does outside and inside the training loop (the real trainer's
SIGTERM path is tests/trainer/test_train.py::test_sigterm_checkpoints_the_update_it_is_in_and_resume_continues_from_it)."""

from __future__ import annotations

import os
import signal

import pytest

from trainer.preemption import GracefulStop, StopRequested, graceful_stop


def _deliver(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)  # Python runs the handler in the main thread before the next bytecode


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_outside_the_loop_a_signal_stops_at_once(sig, code):
    with graceful_stop() as stop, pytest.raises(StopRequested) as info:
        _deliver(sig)
    assert info.value.exit_code == code and info.value.name == sig.name and info.value.checkpoint is None
    assert not stop.requested


def test_inside_the_loop_the_first_signal_waits_for_the_boundary_and_a_second_stops_at_once():
    with graceful_stop() as stop, stop.deferred():
        assert not stop.due()
        _deliver(signal.SIGTERM)
        assert stop.requested and stop.due() and stop.signum == signal.SIGTERM  # a lone process: no collective
        with pytest.raises(StopRequested) as info:
            _deliver(signal.SIGINT)
    assert info.value.signum == signal.SIGINT


def test_the_previous_handlers_come_back():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    with graceful_stop():
        assert signal.getsignal(signal.SIGTERM) != before[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_stop_request_is_not_an_exception_libraries_swallow():
    assert not issubclass(StopRequested, Exception)  # `except Exception` in skrl, mlflow or dagster-pipes lets it by
    assert GracefulStop().requested is False
