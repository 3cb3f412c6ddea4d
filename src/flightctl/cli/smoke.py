"""`flightctl smoke`: a scripted end-to-end check of the current context.

It creates a throwaway user with a Telegram chat id and an interest whose threshold must fire,
runs a collection, waits for the alert to be recorded by the notifier, and removes what it
created. Which threshold fires depends on the airport's flight count, which is only known after
a collection: first `high_value 0` (fires for one flight or more); when the count is 0, the
interest is switched to `low_value 1` (fires for none) and collected again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit
from flightctl.errors import FlightctlError

PASS, FAIL, SKIP = "pass", "fail", "skipped"

cli = typer.Typer(rich_markup_mode=None)  # plain help, as the root's


class StepFailed(Exception):
    pass


@dataclass
class Step:
    name: str
    result: str
    seconds: float
    detail: str


class Smoke:
    def __init__(
        self,
        obj: Context,
        airport: str,
        timeout: float,
        chat_id: str,
        *,
        require_sent: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.5,
    ) -> None:
        self.obj = obj
        self.users, self.collector, self.notifier = obj.users, obj.collector, obj.notifier
        self.airport = airport.upper()
        self.timeout = timeout
        self.chat_id = chat_id
        self.require_sent = require_sent  # a real chat was given: Telegram must have accepted it
        import secrets

        self.email = f"smoke-{secrets.token_hex(6)}@example.com"
        self.clock, self.sleep, self.poll = clock, sleep, poll
        self.steps: list[Step] = []
        self.created_user = self.created_interest = False
        self.expected = ""

    # -- running ------------------------------------------------------------------------------
    def run(self) -> list[Step]:
        plan: list[tuple[str, Callable[[], str]]] = [
            ("services healthy", self.services_healthy),
            ("create user", self.create_user),
            ("set telegram chat", self.set_chat),
            ("add interest", self.add_interest),
            ("collect", self.collect),
            ("notification delivered", self.notification_delivered),
        ]
        failed = False
        try:
            for name, action in plan:
                if failed:
                    self._record(Step(name, SKIP, 0.0, "an earlier step failed"))
                else:
                    failed = not self._step(name, action)
        finally:
            self._step("clean up", self.clean_up)
        return self.steps

    def _step(self, name: str, action: Callable[[], str]) -> bool:
        started = self.clock()
        try:
            detail, result = action(), PASS
        except (StepFailed, FlightctlError) as exc:
            detail, result = str(exc.message if isinstance(exc, FlightctlError) else exc), FAIL
        self._record(Step(name, result, round(self.clock() - started, 3), detail))
        return result == PASS

    def _record(self, step: Step) -> None:
        self.steps.append(step)
        mark = {PASS: "PASS", FAIL: "FAIL", SKIP: "SKIP"}[step.result]
        self.obj.progress(f"{mark} {step.name} ({step.seconds:.2f}s){': ' + step.detail if step.detail else ''}")

    # -- the steps ----------------------------------------------------------------------------
    def services_healthy(self) -> str:
        """The services with an API on the alert path answer /health."""
        problems = []
        checked = (self.users, self.collector, self.notifier)
        for api in checked:
            try:
                status, body = api.health()
            except FlightctlError as exc:
                problems.append(exc.message)
                continue
            if status != 200:
                why = body.get("error") if isinstance(body, dict) else None
                problems.append(f"{api.service} at {api.base_url}: unhealthy (HTTP {status}) {why or ''}")
        if problems:
            raise StepFailed("; ".join(p.strip() for p in problems))
        return ", ".join(api.service for api in checked)

    def create_user(self) -> str:
        self.users.create(self.email, "Smoke", "Test")
        self.created_user = True
        return self.email

    def set_chat(self) -> str:
        self.users.set_telegram_chat(self.email, self.chat_id)
        return f"chat {self.chat_id}"

    def add_interest(self) -> str:
        self.collector.add_interest(self.email, self.airport, high=0)
        self.created_interest = True
        return f"{self.airport}, high_value 0"

    def _collect_once(self) -> dict[str, Any]:
        from flightctl.clients.api import ApiError

        deadline = self.clock() + self.timeout
        while True:
            try:
                summary = self.collector.collect()
                break
            except ApiError as exc:
                if exc.status != 409 or self.clock() >= deadline:
                    raise
                self.sleep(self.poll)  # a scheduled cycle is running; ours starts after it
        airports = {a.get("airport"): a for a in summary.get("airports") or [] if isinstance(a, dict)}
        mine = airports.get(self.airport)
        if mine is None:
            raise StepFailed(f"the collection did not include {self.airport}")
        if mine.get("error"):
            raise StepFailed(f"{self.airport}: {mine['error']} (source {mine.get('source')})")
        if not mine.get("messages"):
            raise StepFailed(f"{self.airport}: nothing was published to the alert system")
        return mine

    def collect(self) -> str:
        first = self._collect_once()
        count = int(first.get("flight_count") or 0)
        if count > 0:
            self.expected = "high"
            return f"{self.airport}: {count} flights (source {first.get('source')}), expecting a high alert"
        self.collector.update_interest(self.email, self.airport, high=None, low=1)
        second = self._collect_once()
        count = int(second.get("flight_count") or 0)
        if count > 0:
            raise StepFailed(f"{self.airport}: the count changed between two collections (0, then {count}); run again")
        self.expected = "low"
        return f"{self.airport}: no flights (source {second.get('source')}); low_value 1, expecting a low alert"

    def notification_delivered(self) -> str:
        deadline = self.clock() + self.timeout
        last_problem = "nothing recorded yet"
        while True:
            try:
                deliveries = self.notifier.notifications(email=self.email, limit=10)
            except FlightctlError as exc:
                deliveries, last_problem = [], exc.message
            done = [d for d in deliveries if isinstance(d, dict) and d.get("status") != "pending"]
            if done:
                found = done[0]
                text = " ".join(str(found.get("text") or "").split())
                # The text carries the condition (docs/architecture.md): "... exceeded the high threshold of 0."
                if self.airport not in text or f"{self.expected} threshold" not in text:
                    raise StepFailed(f"expected a {self.expected} alert for {self.airport}, the notifier sent: {text}")
                if self.require_sent and found.get("status") != "sent":
                    why = found.get("last_error") or "no error recorded"
                    raise StepFailed(f"the alert to chat {self.chat_id} was {found.get('status')}: {why}")
                return f"{self.expected} alert {found.get('status')} to chat {found.get('chat_id')}"
            if self.clock() >= deadline:
                raise StepFailed(f"no delivery for {self.email} within {self.timeout:g}s ({last_problem})")
            self.sleep(self.poll)

    def clean_up(self) -> str:
        from flightctl.clients.api import ApiError

        removed, problems = [], []
        if self.created_interest:
            try:
                self.collector.remove_interest(self.email, self.airport)
                removed.append(f"interest {self.airport}")
            except ApiError as exc:
                if exc.status != 404:
                    problems.append(exc.message)
            except FlightctlError as exc:
                problems.append(exc.message)
        if self.created_user:
            try:
                self.users.delete(self.email)
                removed.append(f"user {self.email}")
            except FlightctlError as exc:
                problems.append(exc.message)
        if problems:
            raise StepFailed("; ".join(problems))
        return ", ".join(removed) or "nothing to remove"


def junit(steps: list[Step], path: Path, context: str) -> None:
    """One testcase per step; a failed step carries its message, a skipped one <skipped/>."""
    import xml.etree.ElementTree as ET

    suite = ET.Element(
        "testsuite",
        name=f"flightctl smoke ({context})",
        tests=str(len(steps)),
        failures=str(sum(s.result == FAIL for s in steps)),
        skipped=str(sum(s.result == SKIP for s in steps)),
        time=f"{sum(s.seconds for s in steps):.3f}",
    )
    for step in steps:
        case = ET.SubElement(suite, "testcase", classname="flightctl.smoke", name=step.name, time=f"{step.seconds:.3f}")
        if step.result == FAIL:
            ET.SubElement(case, "failure", message=step.detail).text = step.detail
        elif step.result == SKIP:
            ET.SubElement(case, "skipped", message=step.detail)
        elif step.detail:
            ET.SubElement(case, "system-out").text = step.detail
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


@cli.command()
def smoke(
    ctx: typer.Context,
    airport: Annotated[str, typer.Option("--airport", help="ICAO code of the airport to watch")] = "LIRF",
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait for the notification")] = 60.0,
    chat_id: Annotated[
        str | None,
        typer.Option(
            "--chat-id",
            help="a real Telegram chat: the alert must then be sent (default: a random id, where a delivery "
            "Telegram refuses still counts: the platform did its part)",
        ),
    ] = None,
    junit_file: Annotated[Path | None, typer.Option("--junit", help="also write a JUnit XML report here")] = None,
) -> None:
    """End-to-end check of the current context.

    Creates a throwaway user with a chat and an interest that must fire, collects, waits for
    the delivery in the notifier's log, and removes what it created. Exit 0 only when every
    step passed."""
    import secrets

    obj: Context = ctx.obj
    throwaway = str(9_000_000_000 + secrets.randbelow(999_999_999))
    runner = Smoke(obj, airport, timeout, chat_id or throwaway, require_sent=chat_id is not None)
    obj.progress(f"smoke test of the {obj.context} context as {runner.email}")
    steps = runner.run()
    if junit_file is not None:
        junit(steps, junit_file, obj.context)
    failed = [s for s in steps if s.result == FAIL]
    if obj.output == "table":
        emit([asdict(s) for s in steps], "table", ["name", "result", "seconds", "detail"])
    else:
        emit({"ok": not failed, "email": runner.email, "steps": [asdict(s) for s in steps]}, obj.output)
    if failed:
        raise FlightctlError(f"smoke failed at step {failed[0].name!r}: {failed[0].detail}")
