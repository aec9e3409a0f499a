"""The OSMO REST client against the stand-in service: real HTTP, real local processes."""

from __future__ import annotations

import time

import pytest

from robotics_assets.lib.osmo import OsmoClient, OsmoError, WorkflowStatus
from robotics_assets.lib.osmo.spec import Resources, WorkflowSpec, render_workflow
from tests.backends.conftest import TOKEN


def _spec(code: str, labels=None, **kw) -> str:
    return render_workflow(WorkflowSpec(
        name="probe", image="crtest.azurecr.io/robotics-trainer:0.1.0", command=["python"],
        args=["-c", code], environment={"GREETING": "hello"}, resources=Resources(gpu=1, cpu=2),
        labels=labels or {}, **kw))


def _wait(client: OsmoClient, wid: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wf = client.get(wid)
        if not WorkflowStatus(wf["status"]).alive:
            return wf
        time.sleep(0.05)
    raise AssertionError(f"{wid} still alive after {timeout}s")


def test_submit_runs_the_command_and_logs_come_back(osmo_client):
    code = "import os; print('env', os.environ['GREETING']); print('cfg', open('/etc/task.yaml').read())"
    spec = _spec(code, files={"/etc/task.yaml": "task: cartpole"}, labels={"team": "robotics"})
    submitted = osmo_client.submit("gpu-pool", spec, labels={"dagster-run-id": "r1"})
    wf = _wait(osmo_client, submitted["name"])
    assert wf["status"] == "COMPLETED"
    assert wf["labels"] == {"team": "robotics", "dagster-run-id": "r1"}
    logs = list(osmo_client.logs(submitted["name"]))
    assert any(line.endswith("[trainer] env hello") for line in logs)
    assert any("cfg task: cartpole" in line for line in logs)
    assert any("COMPLETED" in e for e in osmo_client.events(submitted["name"]))


def test_app_failure_reports_osmo_failure_text(osmo_client):
    submitted = osmo_client.submit("gpu-pool", _spec("import sys; sys.exit(3)"))
    wf = _wait(osmo_client, submitted["name"])
    assert wf["status"] == "FAILED"
    task = wf["groups"][0]["tasks"][0]
    assert task["exit_code"] == 3 and "exit code 3" in task["failure_message"]


def test_cancel_stops_the_process(osmo, osmo_client):
    submitted = osmo_client.submit("gpu-pool", _spec("import time; print('up', flush=True); time.sleep(60)"))
    deadline = time.monotonic() + 10
    while osmo_client.get(submitted["name"])["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    osmo_client.cancel(submitted["name"], message="dagster run terminated")
    wf = _wait(osmo_client, submitted["name"])
    assert wf["status"] == "FAILED_CANCELED"
    assert osmo.standin.workflows[submitted["name"]].process.poll() is not None


@pytest.mark.parametrize(("state", "code"), [("FAILED_PREEMPTED", 3006), ("FAILED_EVICTED", 3004),
                                             ("FAILED_BACKEND_ERROR", 3001)])
def test_disruption_then_restart_endpoint(osmo, osmo_client, state, code):
    from robotics_assets.lib.launch.osmo import is_disruption

    osmo.standin.inject_disruption(state, after_s=0.3, labels={"case": "d"})
    submitted = osmo_client.submit("gpu-pool", _spec("import time; time.sleep(30)"), labels={"case": "d"})
    wf = _wait(osmo_client, submitted["name"])
    # our exitActions map every code to FAIL: OSMO's own code survives, so the launcher still sees the disruption
    assert wf["status"] == "FAILED" and wf["groups"][0]["tasks"][0]["exit_code"] == code and is_disruption(wf)
    again = osmo_client.restart("gpu-pool", submitted["name"])
    restarted = osmo_client.get(again["name"])
    assert restarted["parent_name"] == submitted["name"] and restarted["labels"] == {"case": "d"}
    osmo_client.cancel(again["name"])


def test_restart_refused_unless_failed(osmo_client):
    submitted = osmo_client.submit("gpu-pool", _spec("print(1)"))
    _wait(osmo_client, submitted["name"])
    with pytest.raises(OsmoError, match="Restart can only be used on FAILED workflows"):
        osmo_client.restart("gpu-pool", submitted["name"])


def test_list_by_label(osmo_client):
    a = osmo_client.submit("gpu-pool", _spec("print(1)"), labels={"dagster-asset": "policy", "p": "a"})["name"]
    osmo_client.submit("gpu-pool", _spec("print(1)"), labels={"dagster-asset": "policy", "p": "b"})
    found = osmo_client.list(labels={"dagster-asset": "policy", "p": "a"})
    assert [w["name"] for w in found] == [a]
    assert len(osmo_client.list(labels={"dagster-asset": "policy"})) == 2


def test_errors_carry_osmo_text_and_never_the_token(osmo):
    with pytest.raises(OsmoError) as bad_token:
        OsmoClient(osmo.url, token="wrong-token-abcdef").get("nope-1")
    assert bad_token.value.status_code == 400 and bad_token.value.error_code == "USER"
    assert "OSMO login failed: " in str(bad_token.value) and "Access Token is invalid" in str(bad_token.value)
    assert "wrong-token-abcdef" not in str(bad_token.value)
    client = OsmoClient(osmo.url, token=TOKEN)
    with pytest.raises(OsmoError, match="Pool nowhere not found") as e:
        client.submit("nowhere", _spec("print(1)"))
    assert e.value.status_code == 400 and e.value.error_code == "USER"
    assert TOKEN not in str(e.value) and TOKEN not in repr(client)
    with pytest.raises(OsmoError, match="Workflow missing-9 is not found") as missing:
        client.get("missing-9")
    assert missing.value.status_code == 400 and missing.value.error_code == "DATABASE"


def test_the_raw_access_token_is_refused_only_a_jwt_passes(osmo):
    """The gateway demands the exchanged JWT; a client that sends the access token itself gets 401."""
    import requests

    raw = requests.get(f"{osmo.url}/api/workflow", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert raw.status_code == 401
    exchanged = requests.post(f"{osmo.url}/api/auth/jwt/access_token", json={"token": TOKEN}, timeout=10).json()
    assert set(exchanged) == {"token", "expires_at", "error"} and exchanged["token"].count(".") == 2
    ok = requests.get(f"{osmo.url}/api/workflow", headers={"Authorization": f"Bearer {exchanged['token']}"},
                      timeout=10)
    assert ok.status_code == 200
    forged = exchanged["token"][:-4] + "AAAA"
    assert requests.get(f"{osmo.url}/api/workflow", headers={"Authorization": f"Bearer {forged}"},
                        timeout=10).status_code == 401


def test_the_client_refreshes_its_jwt_before_expiry_and_after_a_401(osmo):
    osmo.standin.jwt_lifetime_s = 2
    client = OsmoClient(osmo.url, token=TOKEN)
    client.list()
    assert osmo.standin.jwts_issued == 1
    time.sleep(1.2)  # the first JWT is about to expire: the client renews before calling, no 401 first
    client.list()
    assert osmo.standin.jwts_issued == 2 and osmo.standin.auth_failures == []
    osmo.standin._signing_key = b"rotated-key"  # the service rotated its key: our JWT is now refused
    client.list()
    assert osmo.standin.jwts_issued == 3 and osmo.standin.auth_failures == ["/api/workflow"]


def test_unreachable_service_is_a_clear_error():
    with pytest.raises(OsmoError, match="ConnectionError"):
        OsmoClient("http://127.0.0.1:9", token=TOKEN, timeout_s=2).get("x-1")
    with pytest.raises(OsmoError, match="osmo.service_url"):
        OsmoClient("osmo.example.com")


def test_the_rendered_spec_survives_the_services_jinja_rendering():
    """render_workflow escapes the text; the stand-in renders like OSMO (sandboxed Jinja, StrictUndefined)."""
    from tests.standins.osmo_server import render_jinja

    tricky = "a {{ b }} c {% if x %} d {# e #} {{'{{'}} '{{' \"{%\" {{workflow_id}}"
    text = render_workflow(WorkflowSpec(name="t", image="i", command=["python"], args=[tricky],
                                        environment={"NOTE": tricky}, files={"/etc/task.yaml": tricky + "\nx: 1\n"}))
    assert "{{ b }}" not in text, "escaped"
    unescaped = text.replace("{{ '{{' }}", "{{").replace("{{ '{%' }}", "{%").replace("{{ '{#' }}", "{#")
    assert render_jinja(text) == unescaped.rstrip("\n")  # Jinja drops the final newline only
    import yaml

    task = yaml.safe_load(render_jinja(text))["workflow"]["tasks"][0]
    assert task["args"] == [tricky] and task["environment"]["NOTE"] == tricky
    assert task["files"][0]["contents"] == tricky + "\nx: 1\n"
