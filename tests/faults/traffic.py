"""Live traffic for the fault tests: a background driver that keeps doing what users do while a
fault is injected, and remembers everything it was told, so that a test can assert afterwards
what was lost (nothing), what was duplicated (nothing) and what the users saw.

Each simulated user is created with an idempotency key (a failed attempt is retried with the
same key, as a client should), linked to a Telegram chat, and given one interest with a high
threshold of 1 in the driver's airport, at most ``users_per_second``; a second thread asks
data-collector for a collection every ``collect_every`` seconds. The fake OpenSky has three
flights of yesterday at that airport, so every interest that a collection reaches alerts once,
to that user's chat."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.fakes.opensky import make_flight

RETRY_PAUSE = 0.2


@dataclass
class Person:
    email: str
    chat_id: str
    airport: str
    created: bool = False
    linked: bool = False
    interested: bool = False

    @property
    def complete(self) -> bool:
        return self.created and self.linked and self.interested


@dataclass
class Seen:
    """Every answer the driver got, by what it asked: status codes, or the transport error's name."""

    answers: dict[str, Counter[str]] = field(default_factory=dict)
    slowest: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, answer: str, seconds: float = 0.0) -> None:
        with self.lock:
            self.answers.setdefault(what, Counter())[answer] += 1
            self.slowest[what] = max(self.slowest.get(what, 0.0), round(seconds, 2))

    def count(self, answer: str) -> int:
        return sum(c[answer] for c in self.answers.values())

    def summary(self) -> dict[str, dict[str, int]]:
        return {what: dict(counter) for what, counter in sorted(self.answers.items())}


class Traffic:
    def __init__(
        self, platform: Platform, airport: str, *, collect_every: float = 2.0, users_per_second: float = 5.0
    ) -> None:
        self.platform = platform
        self.airport = airport
        self.collect_every = collect_every
        # A trickle, as users come: unpaced, a quick machine made 2,000 users in a minute, whose
        # alerts alone take longer than the test waits at Telegram's 30 messages a second.
        self.user_interval = 1.0 / users_per_second
        self.people: list[Person] = []
        self.seen = Seen()
        self.collections_started = 0  # answered or not (one asked during an outage may answer after it)
        self.collecting = False  # a collection asked for and not answered yet
        self.sources: dict[str, Counter[str]] = {}  # airport -> where the collections' counts came from
        self.errors: dict[str, Any] = {}  # airport -> the last collection's error for it (None: none)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._users, name="traffic-users", daemon=True),
            threading.Thread(target=self._collections, name="traffic-collect", daemon=True),
        ]
        day = int(time.time())
        day -= day % 86400 + 36000  # 14:00 yesterday (UTC): a complete day, as OpenSky serves it
        tag = uuid.uuid4().hex[:4]
        platform.opensky.add_flights(
            make_flight(f"f{tag}{n}", day - 7200 + n * 600, day - 3600 + n * 600, departure=airport, arrival="LIRF")
            for n in range(3)
        )

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def wait_for_people(self, n: int, timeout: float = 60) -> bool:
        """Until ``n`` more people than now are complete."""
        target = sum(p.complete for p in self.people) + n
        return wait_until(lambda: sum(p.complete for p in self.people) >= target, timeout)

    # -- the two threads ------------------------------------------------------------------------
    def _call(self, what: str, client: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        began = time.monotonic()
        try:
            answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.seen.add(what, type(exc).__name__, time.monotonic() - began)
            return None
        self.seen.add(what, str(answer.status_code), time.monotonic() - began)
        return answer

    def _until(self, done: set[int], what: str, client: httpx.Client, **request: object) -> bool:
        """Send ``what`` (``"POST /users"``: method and path) until its status is in ``done``
        or the driver stops; True when done."""
        method, path = what.split(" ", 1)
        while not self._stop.is_set():
            answer = self._call(what, client, method, path, **request)
            if answer is not None and answer.status_code in done:
                return True
            self._stop.wait(RETRY_PAUSE)
        return False

    def _users(self) -> None:
        token = {"Authorization": f"Bearer {self.platform.token}"}
        with (
            httpx.Client(base_url=self.platform.url("user-manager"), headers=token, timeout=10) as users,
            httpx.Client(base_url=self.platform.url("data-collector"), headers=token, timeout=10) as collector,
        ):
            next_at = time.monotonic()
            while not self._stop.wait(max(0.0, next_at - time.monotonic())):
                next_at = time.monotonic() + self.user_interval
                email = f"fault-{uuid.uuid4().hex[:10]}@example.com"
                person = Person(email, str(random.randint(10**9, 10**10)), self.airport)
                self.people.append(person)
                body = {"email": person.email, "first_name": "Ada", "last_name": "Lovelace"}
                key = {"Idempotency-Key": str(uuid.uuid4())}  # the same key for every retry
                person.created = self._until({201}, "POST /users", users, json=body, headers=key)
                link = {"email": person.email, "telegram_chat_id": person.chat_id}
                person.linked = person.created and self._until({200}, "POST /users/telegram", users, json=link)
                interest = {"email": person.email, "airport_code": person.airport, "high_value": 1}
                # 409 after an attempt whose answer was lost: that attempt was applied, once
                person.interested = person.linked and self._until(
                    {201, 409}, "POST /interests", collector, json=interest
                )

    def _collections(self) -> None:
        token = {"Authorization": f"Bearer {self.platform.token}"}
        with httpx.Client(base_url=self.platform.url("data-collector"), headers=token, timeout=60) as collector:
            while not self._stop.wait(self.collect_every):
                self.collections_started += 1
                self.collecting = True
                answer = self._call("POST /collect", collector, "POST", "/collect")
                self.collecting = False
                if answer is not None and answer.status_code == 200:
                    for airport in answer.json().get("airports", []):
                        code, source = str(airport.get("airport")), str(airport.get("source"))
                        self.sources.setdefault(code, Counter())[source] += 1
                        self.errors[code] = airport.get("error")

    # -- what the test asserts --------------------------------------------------------------------
    def collect_until_done(self, timeout: float = 120) -> None:
        """One more collection, retried until it succeeds (the driver has stopped)."""
        with self.platform.client("data-collector") as collector:

            def collected() -> bool:
                answer = self._call("POST /collect", collector, "POST", "/collect")
                return answer is not None and answer.status_code == 200

            assert wait_until(collected, timeout, 1.0), self.seen.summary()

    def assert_nothing_lost_or_duplicated(self, timeout: float = 90) -> None:
        """Every complete person exists once, has one interest, and got exactly one alert."""
        people = [p for p in self.people if p.complete]
        assert people, f"no user made it through: {self.seen.summary()}"
        with self.platform.client("user-manager") as users, self.platform.client("data-collector") as collector:
            for person in people:
                assert users.get(f"/users/{person.email}").status_code == 200, person.email
                interests = collector.get(f"/interests/{person.email}").json()["interests"]
                assert [i["airport_code"] for i in interests] == [person.airport], interests
        self.collect_until_done()
        chats = {p.chat_id for p in people}

        def delivered() -> Counter[str]:
            return Counter(m.chat_id for m in self.platform.telegram.messages if m.chat_id in chats)

        assert wait_until(lambda: set(delivered()) == chats, timeout, 0.5), (
            f"{len(chats) - len(delivered())} of {len(chats)} alerts not delivered"
        )
        duplicated = {chat: n for chat, n in delivered().items() if n != 1}
        assert not duplicated, f"alerts delivered more than once: {duplicated}"
        assert self.seen.count("500") == 0, self.seen.summary()
