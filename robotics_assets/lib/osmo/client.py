"""REST client for the NVIDIA OSMO workflow service.

OSMO publishes no Python client; its CLI is a thin wrapper over this API, so the calls below mirror the CLI's
(`src/cli/workflow.py` in NVIDIA/OSMO): same paths, query parameters and JSON bodies. Responses are parsed as JSON;
errors carry OSMO's own `message` and never a token.

Authentication is the CLI's token login (NVIDIA/OSMO `src/lib/utils/login.py`, `token_login` / `refresh_id_token`;
service side `src/service/core/auth/auth_service.py`, `get_jwt_token_from_access_token`): the long-lived access
token is never sent to the workflow API. It is exchanged with `POST /api/auth/jwt/access_token {"token": ...}` (a
path the gateway lets through unauthenticated) for a short-lived JWT (`{"token", "expires_at"}`, ~5 min), and that
JWT goes in `Authorization: Bearer` on every call. The JWT is renewed shortly before it expires and once more when a
call answers 401 (a clock skew, a revoked key), then the call is repeated.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests

from robotics_assets.lib.osmo.status import WorkflowStatus

DEFAULT_TOKEN_ENV = "OSMO_TOKEN"
LOGIN_PATH = "api/auth/jwt/access_token"
EXPIRE_WINDOW_S = 3  # login.py's EXPIRE_WINDOW: never use a JWT that expires within the next few seconds


class OsmoError(RuntimeError):
    """An OSMO API call failed; `message` is OSMO's own error text (or the transport error)."""

    def __init__(self, message: str, *, status_code: int | None = None, error_code: str | None = None,
                 workflow_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.workflow_id = workflow_id


def token_from_env(name: str = DEFAULT_TOKEN_ENV) -> str:
    """The OSMO access token from an environment variable (until the secrets provider supplies it)."""
    token = os.environ.get(name, "").strip()
    if not token:
        raise OsmoError(f"{name}: no OSMO access token in the environment (set {name} or configure the secrets provider)")
    return token


class OsmoClient:
    """One OSMO service. `token` is the access token exchanged for JWTs; `user` sets `x-osmo-user` (dev-mode only)."""

    def __init__(self, service_url: str, *, token: str | None = None, user: str | None = None,
                 timeout_s: float = 30.0, session: requests.Session | None = None):
        if not service_url or "://" not in service_url:
            raise OsmoError(f"osmo.service_url: {service_url!r} is not a URL (e.g. https://osmo.example.com)")
        self.service_url = service_url.rstrip("/")
        self.timeout_s = timeout_s
        self._token = token
        self._jwt: str | None = None
        self._jwt_expires_at = 0.0
        self._refresh_at = 0.0
        self._login_lock = threading.Lock()  # the log follower thread and the poll loop share one client
        self._session = session or requests.Session()
        if user:
            self._session.headers["x-osmo-user"] = user

    def __repr__(self) -> str:  # never show the token
        return f"OsmoClient({self.service_url!r})"

    # -- workflows ------------------------------------------------------------------------------------------
    def submit(self, pool: str, spec_yaml: str, *, labels: Mapping[str, str] | None = None,
               set_variables: Iterable[str] = (), set_string_variables: Iterable[str] = (),
               priority: str | None = None, dry_run: bool = False, validation_only: bool = False) -> dict[str, Any]:
        """`POST /api/pool/{pool}/workflow`: returns SubmitResponse (`name` is the workflow id)."""
        params: dict[str, Any] = {}
        if labels:
            params["label"] = [f"{k}={v}" for k, v in labels.items()]
        if priority:
            params["priority"] = priority
        if dry_run:
            params["dry_run"] = True
        if validation_only:
            params["validation_only"] = True
        body = {"file": spec_yaml, "set_variables": list(set_variables),
                "set_string_variables": list(set_string_variables)}
        return self._json("POST", f"api/pool/{pool}/workflow", params=params, json=body)

    def get(self, workflow_id: str, *, verbose: bool = False) -> dict[str, Any]:
        """`GET /api/workflow/{id}`: WorkflowQueryResponse (status, groups with tasks, failure messages, labels)."""
        return self._json("GET", f"api/workflow/{workflow_id}", params={"verbose": verbose} if verbose else None)

    def status(self, workflow_id: str) -> WorkflowStatus:
        return WorkflowStatus(self.get(workflow_id)["status"])

    def cancel(self, workflow_id: str, *, message: str | None = None, force: bool = False) -> dict[str, Any]:
        """`POST /api/workflow/{id}/cancel`."""
        params: dict[str, Any] = {"force": force}
        if message:
            params["message"] = message
        return self._json("POST", f"api/workflow/{workflow_id}/cancel", params=params)

    def restart(self, pool: str, workflow_id: str) -> dict[str, Any]:
        """`POST /api/pool/{pool}/workflow/{id}/restart`: resubmits a FAILED workflow's spec as a new workflow."""
        return self._json("POST", f"api/pool/{pool}/workflow/{workflow_id}/restart")

    def list(self, *, labels: Mapping[str, str] | None = None, statuses: Iterable[WorkflowStatus | str] = (),
             pools: Iterable[str] = (), all_users: bool = True, limit: int = 100) -> list[dict[str, Any]]:
        """`GET /api/workflow`: entries matching every `label` (AND), newest pages followed until exhausted."""
        params: dict[str, Any] = {"all_users": all_users, "limit": limit, "order": "DESC"}
        if labels:
            params["label"] = [f"{k}={v}" for k, v in labels.items()]
        if statuses:
            params["statuses"] = [getattr(s, "value", s) for s in statuses]
        pools = list(pools)
        if pools:
            params["pools"] = pools
        else:
            params["all_pools"] = True
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._json("GET", "api/workflow", params={**params, "offset": offset})
            found.extend(page.get("workflows", []))
            if not page.get("more_entries"):
                return found
            offset += limit

    # -- logs and events (plain text, streamed like `osmo workflow logs`) -----------------------------------
    def logs(self, workflow_id: str, *, last_n_lines: int | None = None, task_name: str | None = None) -> Iterator[str]:
        params: dict[str, Any] = {}
        if last_n_lines:
            params["last_n_lines"] = last_n_lines
        if task_name:
            params["task_name"] = task_name
        return self._lines(f"api/workflow/{workflow_id}/logs", params)

    def events(self, workflow_id: str, *, task_name: str | None = None) -> Iterator[str]:
        return self._lines(f"api/workflow/{workflow_id}/events", {"task_name": task_name} if task_name else {})

    def open_log_stream(self, workflow_id: str) -> requests.Response:
        """A live `logs` response (the service keeps it open while the workflow runs); the caller closes it."""
        return self._request("GET", f"api/workflow/{workflow_id}/logs", stream=True, timeout=(self.timeout_s, None))

    # -- plumbing --------------------------------------------------------------------------------------------
    def _lines(self, path: str, params: Mapping[str, Any]) -> Iterator[str]:
        response = self._request("GET", path, params=params, stream=True)
        with response:
            for raw in response.iter_lines(decode_unicode=False):
                yield raw.decode("utf-8", errors="replace")

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise OsmoError(f"OSMO {method} /{path}: response is not JSON (HTTP {response.status_code})",
                            status_code=response.status_code) from None

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        url = f"{self.service_url}/{path}"
        for retry_login in (False, True):
            headers = dict(kwargs.pop("headers", None) or {})
            jwt = self._current_jwt(force=retry_login)
            if jwt:
                headers["Authorization"] = f"Bearer {jwt}"
            try:
                response = self._session.request(method, url, headers=headers, **kwargs)
            except requests.RequestException as e:
                raise OsmoError(self._scrub(f"OSMO {method} /{path}: {type(e).__name__}: {e}")) from None
            if response.status_code == 401 and self._token and not retry_login:
                response.close()
                continue  # the JWT was refused: log in again once, then repeat the call
            if response.status_code >= 400:
                raise self._error(method, path, response)
            return response
        raise AssertionError("unreachable")

    # -- authentication --------------------------------------------------------------------------------------
    def _current_jwt(self, force: bool = False) -> str | None:
        if not self._token:
            return None
        with self._login_lock:
            if force or self._jwt is None or time.time() >= self._refresh_at:
                self._login()
            return self._jwt

    def _login(self) -> None:
        """Exchange the access token for a JWT, as `osmo login --method token` does."""
        url = f"{self.service_url}/{LOGIN_PATH}"
        try:
            response = self._session.post(url, json={"token": self._token}, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise OsmoError(self._scrub(f"OSMO login POST /{LOGIN_PATH}: {type(e).__name__}: {e}")) from None
        if response.status_code >= 300:
            error = self._error("POST", LOGIN_PATH, response)
            raise OsmoError(f"OSMO login failed: {error.message} (check the access token in the secrets "
                            "provider; it may have expired)", status_code=error.status_code,
                            error_code=error.error_code)
        try:
            jwt = str(response.json()["token"])
            expires_at = float(response.json().get("expires_at") or _jwt_expiry(jwt))
        except (ValueError, KeyError, TypeError):
            raise OsmoError(f"OSMO login POST /{LOGIN_PATH}: no JWT in the answer (HTTP "
                            f"{response.status_code})", status_code=response.status_code) from None
        now = time.time()
        lifetime = max(expires_at - now, 0.0)
        self._jwt, self._jwt_expires_at = jwt, expires_at
        # renew a little before expiry: a fifth of the lifetime (at most a minute, at least login.py's window),
        # never more than half of it (tests shorten the lifetime to seconds)
        self._refresh_at = expires_at - min(max(EXPIRE_WINDOW_S, min(60.0, lifetime / 5)), lifetime / 2)

    def _error(self, method: str, path: str, response: requests.Response) -> OsmoError:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if isinstance(payload, dict) and payload.get("message"):
            message = str(payload["message"])
        elif isinstance(payload, dict) and payload.get("detail"):  # FastAPI validation errors
            message = str(payload["detail"])
        else:
            message = response.text[:500] or response.reason
        return OsmoError(
            self._scrub(f"OSMO {method} /{path} failed (HTTP {response.status_code}): {message}"),
            status_code=response.status_code,
            error_code=payload.get("error_code") if isinstance(payload, dict) else None,
            workflow_id=payload.get("workflow_id") if isinstance(payload, dict) else None,
        )

    def _scrub(self, text: str) -> str:
        for secret in (self._token, self._jwt):
            if secret:
                text = text.replace(secret, "***")
        return text


def _jwt_expiry(jwt: str) -> float:
    """The `exp` claim of a JWT (login.py's `Jwt`), read without verifying: the service verifies, we only schedule."""
    payload = jwt.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "==").decode())["exp"])
