"""The load test `flightctl loadtest` runs with Locust, through the gateway (HTTPS, every service
under its prefix). Locust loads this file by path in a process of its own; it imports nothing
of flightctl, and reads what it needs from the environment:

- ``FLIGHTCTL_LOADTEST_TOKEN``: the API token (``Authorization: Bearer``);
- ``FLIGHTCTL_LOADTEST_CA``: the gateway's certificate to verify HTTPS against (unset: the
  system's CAs).

The mix, one simulated user (``Platform``) choosing a task by its weight after a wait of 1 to 2
seconds:

- weight 12, flights: a list (all, or arrivals), an average or the last flight of one of
  :data:`AIRPORTS`;
- weight 3, health: each public service's ``/ping``, and one ``/health``;
- weight 2, user lifecycle: create a user with an idempotency key, the same request again
  (replayed), the same user with a new key (409: the deliberate collision), read it, delete it
  with a key;
- weight 2, interest: a new interest of the simulated user's own user in one of
  :data:`AIRPORTS` (201, or 409 when it has one there);
- weight 2, SLA reads: the SLA config, the breach statistics, a service's ``/metrics``;
- weight 1, SLA config posts: the current config posted back (200), and the same with a
  query that is not PromQL (400).

Answers our contract gives on purpose count as success: 404 for an airport with no flights
stored, 409 for an existing interest or user, 400 for the invalid SLA config. Anything else
outside 2xx, and every transport error, is a failure. Requests are named by route (``[icao]``,
``[email]``), so the statistics are per endpoint.
"""

from __future__ import annotations

import functools
import json
import os
import random
import ssl
import uuid
from typing import Any

from locust import FastHttpUser, between, task

AIRPORTS = ("LICC", "LIRF", "LIMC", "KJFK", "EGLL", "RJTT", "EDDF", "LFPG", "OMDB")
PREFIXES = ("user-manager", "data-collector", "sla-detector", "notifier")
BROKEN_QUERY = "rate(up[5m]"
"""Not PromQL: a config otherwise valid with this query is refused (400)."""


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS client context for every simulated user of this process, verifying against
    ``FLIGHTCTL_LOADTEST_CA`` alone when it is set (else the system's CAs). Locust asks for a
    context when a user makes its first request; building one with the system's CAs parses
    about 150 certificates (0.4 s here) inside that request's timing, and blocks the process's
    event loop, so every other request then in flight waited too: a context per user put
    seconds into the users created while the test ramped up."""
    import gevent.ssl  # Locust's own dependency; its sockets are gevent's

    ca = os.environ.get("FLIGHTCTL_LOADTEST_CA")
    if not ca:
        return gevent.ssl.create_default_context()  # type: ignore[no-any-return]
    context = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the peer and its host name
    context.load_verify_locations(cafile=ca)
    return context


class Platform(FastHttpUser):
    wait_time = between(1, 2)
    insecure = False
    ssl_context_factory = staticmethod(_ssl_context)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {os.environ.get('FLIGHTCTL_LOADTEST_TOKEN', '')}"}
        self.email = f"lt-{uuid.uuid4().hex[:12]}@example.com"
        self.interests: set[str] = set()
        # The user whose interests this simulated user creates; its own lifecycle task uses others.
        self._call("POST", "/user-manager/users", "POST /user-manager/users", (201,),
                   body=self._user(self.email), key=str(uuid.uuid4()))  # fmt: skip

    def on_stop(self) -> None:
        self._call("DELETE", f"/user-manager/users/{self.email}", "DELETE /user-manager/users/[email]", (200, 404),
                   key=str(uuid.uuid4()))  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _user(email: str) -> dict[str, str]:
        return {"email": email, "first_name": "Load", "last_name": "Test"}

    def _call(
        self,
        method: str,
        path: str,
        name: str,
        expected: tuple[int, ...],
        *,
        body: Any = None,
        key: str | None = None,
    ) -> Any:
        """One request; a status in ``expected`` is a success, anything else a failure."""
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        with self.client.request(method, path, name=name, headers=headers, json=body, catch_response=True) as response:
            if response.status_code in expected:
                response.success()
            else:
                text = (response.text or "")[:200] if response.status_code else str(response.error)
                response.failure(f"HTTP {response.status_code}: {text}")
            return response

    # -- the mix -----------------------------------------------------------------------------
    @task(12)
    def flights(self) -> None:
        code = random.choice(AIRPORTS)
        choice = random.randrange(4)
        if choice == 0:
            self._call("GET", f"/data-collector/flights/{code}?limit=100", "GET /data-collector/flights/[icao]",
                       (200, 404))  # fmt: skip
        elif choice == 1:
            self._call("GET", f"/data-collector/flights/{code}?type=arrivals&limit=100",
                       "GET /data-collector/flights/[icao]?type=arrivals", (200, 404))  # fmt: skip
        elif choice == 2:
            self._call("GET", f"/data-collector/flights/average/{code}?days=7",
                       "GET /data-collector/flights/average/[icao]", (200, 404))  # fmt: skip
        else:
            self._call("GET", f"/data-collector/flights/last/{code}", "GET /data-collector/flights/last/[icao]",
                       (200, 404))  # fmt: skip

    @task(3)
    def health(self) -> None:
        for prefix in PREFIXES:
            self._call("GET", f"/{prefix}/ping", f"GET /{prefix}/ping", (200,))
        prefix = random.choice(PREFIXES)
        self._call("GET", f"/{prefix}/health", f"GET /{prefix}/health", (200,))

    @task(2)
    def user_lifecycle(self) -> None:
        email = f"lt-{uuid.uuid4().hex[:12]}@example.com"
        key = str(uuid.uuid4())
        body = self._user(email)
        self._call("POST", "/user-manager/users", "POST /user-manager/users", (201,), body=body, key=key)
        self._call("POST", "/user-manager/users", "POST /user-manager/users (same key: replayed)", (201,),
                   body=body, key=key)  # fmt: skip
        self._call("POST", "/user-manager/users", "POST /user-manager/users (existing user, new key: 409)", (409,),
                   body=body, key=str(uuid.uuid4()))  # fmt: skip
        self._call("GET", f"/user-manager/users/{email}", "GET /user-manager/users/[email]", (200,))
        self._call("DELETE", f"/user-manager/users/{email}", "DELETE /user-manager/users/[email]", (200,),
                   key=str(uuid.uuid4()))  # fmt: skip

    @task(2)
    def interest(self) -> None:
        code = random.choice(AIRPORTS)
        expected = (409,) if code in self.interests else (201, 409)
        body = {"email": self.email, "airport_code": code, "high_value": 500, "low_value": 1}
        self._call("POST", "/data-collector/interests", "POST /data-collector/interests", expected, body=body)
        self.interests.add(code)

    @task(2)
    def sla_reads(self) -> None:
        self._call("GET", "/sla-detector/sla/config", "GET /sla-detector/sla/config", (200,))
        self._call("GET", "/sla-detector/breach/stats", "GET /sla-detector/breach/stats", (200,))
        prefix = random.choice(PREFIXES)
        self._call("GET", f"/{prefix}/metrics", f"GET /{prefix}/metrics", (200,))

    @task(1)
    def sla_posts(self) -> None:
        current = self._call("GET", "/sla-detector/sla/config", "GET /sla-detector/sla/config", (200,))
        if current.status_code != 200:
            return
        config = json.loads(current.text)
        self._call("POST", "/sla-detector/sla/config", "POST /sla-detector/sla/config (valid)", (200,), body=config)
        config["metrics"][0]["query"] = BROKEN_QUERY
        self._call("POST", "/sla-detector/sla/config", "POST /sla-detector/sla/config (invalid: 400)", (400,),
                   body=config)  # fmt: skip
