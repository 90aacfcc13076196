"""The MLflow registry, through its REST API (the few calls the operator makes).

A small async client instead of `mlflow.MlflowClient`: per-call credentials (MLflow's client
reads them from process-wide environment variables, wrong for many resources with different
Secrets), strict timeouts, and failures sorted into "unreachable, try again" versus "does not
exist" so the reconciler can tell an outage (an Error measurement, retried, never a rollout)
from a wrong spec.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

_API = "/api/2.0/mlflow"


class RegistryUnavailable(Exception):
    """The tracking server could not be reached or failed; the same call may work later."""


class Unauthorized(RegistryUnavailable):
    """MLflow refused the credentials (401) or their user's permission (403). Retried like an
    outage: fixing the Secret, not the spec, is what mends it."""


class NotFound(Exception):
    """The registry answered: this model, version, alias or run does not exist."""


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    # Where they came from, for messages (e.g. "Secret mlflow-operator"): never their values.
    source: str = "spec.mlflow.credentialsSecretRef"

    def auth(self) -> dict[str, Any]:
        if self.token:
            return {"headers": {"Authorization": f"Bearer {self.token}"}}
        if self.username and self.password:
            return {"auth": (self.username, self.password)}
        return {}


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    source: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Run:
    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


class SharedHttp:
    """One HTTP client for every Registry of a process, at most ``slots`` requests at a time.

    It keeps no cookies: a cookie one promotion's credentials earned must never ride along with
    another promotion's calls. The slots keep the pool small: httpcore matches each queued
    request against each connection, so 200 promotions calling at once spent a third of the
    operator's CPU in that bookkeeping, and one MLflow server answers no faster for it.
    """

    def __init__(self, slots: int = 16) -> None:
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
        self._client = httpx.AsyncClient(cookies=no_cookies, limits=limits)
        self._slots = asyncio.Semaphore(slots)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async with self._slots:
            return await self._client.request(method, url, **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()


class Registry:
    """MLflow's REST API for one tracking server and one set of credentials.

    Pass ``http``, shared by every Registry of the process (the operator does): a new
    `httpx.AsyncClient` builds its TLS context, ~20 ms of CPU, and at 200 promotions that was
    most of the operator's CPU. Without one, each call opens and closes its own (one-off use).
    """

    def __init__(
        self,
        tracking_uri: str,
        credentials: Credentials | None = None,
        timeout_s: float = 10,
        http: SharedHttp | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self._credentials = credentials or Credentials()
        self._timeout = timeout_s
        self._http = http

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.tracking_uri}{_API}{path}"
        per_request = {**self._credentials.auth(), "timeout": self._timeout, **kwargs}
        try:
            if self._http is not None:
                response = await self._http.request(method, url, **per_request)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.request(method, url, **per_request)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"cannot reach MLflow at {self.tracking_uri}: {type(exc).__name__}: {exc}"
            ) from exc
        body: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
        if response.status_code == 404 or body.get("error_code") == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(body.get("message") or f"{path}: not found")
        if response.status_code in (401, 403):
            raise Unauthorized(self._refusal(response.status_code))
        if response.status_code >= 400:
            # MLflow's own JSON message only: an error page (HTML, a proxy's, a stack trace) is
            # not copied into statuses and Events.
            why = str(body.get("message") or response.reason_phrase)[:300]
            raise RegistryUnavailable(
                f"MLflow at {self.tracking_uri} answered {response.status_code}: {why}"
            )
        return body

    def _refusal(self, status: int) -> str:
        where = f"MLflow at {self.tracking_uri} refused the request ({status}"
        if status == 403:
            return (
                f"{where} Forbidden): the user in {self._credentials.source} may not do this; "
                "give it EDIT on the registered model (or use an admin)"
            )
        if self._credentials.auth():
            return f"{where} Unauthorized): the credentials in {self._credentials.source} are wrong"
        return (
            f"{where} Unauthorized): it requires a login; name a Secret with a username and "
            "password in spec.mlflow.credentialsSecretRef"
        )

    async def model_version(self, name: str, version: str) -> ModelVersion:
        body = await self._call(
            "GET", "/model-versions/get", params={"name": name, "version": version}
        )
        return _model_version(body["model_version"])

    async def version_for_alias(self, name: str, alias: str) -> ModelVersion:
        body = await self._call(
            "GET", "/registered-models/alias", params={"name": name, "alias": alias}
        )
        return _model_version(body["model_version"])

    async def run(self, run_id: str) -> Run:
        body = await self._call("GET", "/runs/get", params={"run_id": run_id})
        data = body["run"].get("data", {})
        return Run(
            run_id=run_id,
            metrics={m["key"]: float(m["value"]) for m in data.get("metrics", [])},
            params={p["key"]: p["value"] for p in data.get("params", [])},
            tags={t["key"]: t["value"] for t in data.get("tags", [])},
        )

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        payload = {"name": name, "alias": alias, "version": version}
        await self._call("POST", "/registered-models/alias", json=payload)

    async def model_tags(self, name: str) -> dict[str, str]:
        """The registered model's own tags (not a version's)."""
        body = await self._call("GET", "/registered-models/get", params={"name": name})
        return {t["key"]: t["value"] for t in body["registered_model"].get("tags", [])}

    async def set_model_tag(self, name: str, key: str, value: str) -> None:
        payload = {"name": name, "key": key, "value": value}
        await self._call("POST", "/registered-models/set-tag", json=payload)

    async def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            payload = {"name": name, "version": version, "key": key, "value": value[:5000]}
            await self._call("POST", "/model-versions/set-tag", json=payload)


def _model_version(raw: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=raw["name"],
        version=str(raw["version"]),
        run_id=raw.get("run_id") or None,
        source=raw.get("source"),
        tags={t["key"]: t["value"] for t in raw.get("tags", [])},
        aliases=tuple(raw.get("aliases", [])),
    )
