"""A fake Telegram Bot API server on 127.0.0.1, for tests.

Routes ``/bot<token>/<method>`` (GET or POST; JSON, urlencoded or multipart parameters, or
the query string) and answers like the real API: ``getMe``, ``sendMessage`` (with the real
checks of ``parse_mode=HTML``), ``getUpdates`` (long polling), ``deleteWebhook``,
``setMyCommands``, ``getWebhookInfo``, plus scripted ``sendMessage`` faults.

alert-notifier sends HTML only, so HTML is the one parse mode the fake parses: any other
(``Markdown`` and ``MarkdownV2`` included) is answered 400 ``Bad Request: unsupported
parse_mode``, the real API's answer to a mode it does not know, rather than accepted unchecked.
Like the real API, the mode is case-insensitive and ``none`` (or empty) means plain text.

Run standalone: ``python -m tests.fakes.telegram --port 0 --token T``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl

from tests.fakes.http import Exchange, HttpFake, serve_until_signalled

MAX_TEXT_LENGTH = 4096
MAX_LONG_POLL_SECONDS = 2.0
BAD_REQUEST = "Bad Request: "
PARSE_ERROR = "Bad Request: can't parse entities: "

_FAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Fault:
    """A scripted answer for one ``sendMessage`` call.

    ``status``: answer that error (429 carries ``parameters.retry_after``); ``down``: close the
    connection without answering; ``delay``: wait first (cut short by ``stop()``);
    ``description`` overrides the error text.
    """

    status: int | None = None
    retry_after: int | None = None
    down: bool = False
    delay: float = 0.0
    description: str | None = None


@dataclass(frozen=True)
class SentMessage:
    """A message the fake delivered; ``text`` is exactly what the client sent."""

    chat_id: str
    text: str
    parse_mode: str | None
    time: float
    message_id: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One ``sendMessage`` call; ``status`` is the HTTP status answered, None when dropped."""

    chat_id: str | None
    text: str | None
    parse_mode: str | None
    status: int | None
    time: float
    description: str | None = None


@dataclass(frozen=True)
class Call:
    """Any Bot API call that reached a method (method name as sent, parameters)."""

    method: str
    params: dict[str, Any]
    time: float


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# -- entity parsing (a port of the checks TDLib applies to HTML, trimmed) -------------------


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
        "code", "pre", "span", "tg-spoiler", "tg-emoji", "blockquote",
    }
)  # fmt: skip
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: str) -> str:
    name = match[1:-1]
    if name.startswith(("#x", "#X")):
        return chr(int(name[2:], 16)) if int(name[2:], 16) < 0x110000 else "?"
    if name.startswith("#"):
        return chr(int(name[1:])) if int(name[1:]) < 0x110000 else "?"
    return _HTML_NAMED[name]


def parse_html(text: str) -> str:
    """Return the plain text of an HTML message, or raise ``ValueError`` like Telegram.

    Stricter than Telegram on one point, as its documentation asks: an ``&`` must start one
    of ``&lt; &gt; &amp; &quot;`` or a numeric entity.
    """
    out: list[str] = []
    stack: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            m = _HTML_ENTITY.match(text, i)
            if m is None:
                raise ValueError(
                    f"Character '&' at byte offset {_byte_offset(text, i)} must start an HTML entity; use &amp;"
                )
            out.append(_html_entity(m.group()))
            i = m.end()
            continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        start = _byte_offset(text, i)
        if text.startswith("</", i):
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {start}")
            close = text.find(">", i)
            if close < 0:
                raise ValueError(f"Unclosed end tag at byte offset {start}")
            name = text[i + 2 : close].strip().lower()
            if name and name != stack[-1]:
                raise ValueError(
                    f'Unmatched end tag at byte offset {start}, expected "</{stack[-1]}>", found "</{name}>"'
                )
            stack.pop()
            i = close + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise ValueError(f"Unclosed start tag at byte offset {start}")
        name = text[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {start}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise ValueError(f'Unclosed start tag "{name}" at byte offset {start}')
            if text[j] == ">":
                break
            k = j
            while k < n and not text[k].isspace() and text[k] not in "=>":
                k += 1
            attr = text[j:k].lower()
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] == "=":
                if not attr:
                    raise ValueError(f'Empty attribute name in the tag "{name}" at byte offset {start}')
                k += 1
                while k < n and text[k].isspace():
                    k += 1
                if k < n and text[k] in "'\"":
                    end = text.find(text[k], k + 1)
                    if end < 0:
                        raise ValueError(f"Unclosed start tag at byte offset {start}")
                    attrs[attr] = text[k + 1 : end]
                    k = end + 1
                else:
                    v = k
                    while k < n and not text[k].isspace() and text[k] != ">":
                        k += 1
                    attrs[attr] = text[v:k]
            elif attr:
                attrs[attr] = ""
            j = k
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ValueError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise ValueError('Tag "tg-emoji" must have attribute "emoji-id"')
        stack.append(name)
        i = j + 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def plain_text(text: str, parse_mode: str | None) -> str:
    """Apply ``parse_mode``; raise ``_ApiError`` (400) like the Bot API on bad markup or a
    mode the fake does not parse (only HTML: see the module's docstring)."""
    mode = (parse_mode or "").strip().lower()
    if mode in ("", "none"):
        return text
    if mode != "html":
        raise _ApiError(400, f"{BAD_REQUEST}unsupported parse_mode")
    try:
        return parse_html(text)
    except ValueError as exc:
        raise _ApiError(400, f"{PARSE_ERROR}{exc}") from None


# -- request parameters ---------------------------------------------------------------------


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if m is None:
        raise _ApiError(400, f"{BAD_REQUEST}invalid multipart/form-data body")
    boundary = (m.group(1) or m.group(2)).encode()
    params: dict[str, Any] = {}
    for part in body.split(b"--" + boundary):
        if part.startswith(b"\r\n"):
            part = part[2:]
        elif part.startswith(b"\n"):
            part = part[1:]
        if not part or part.startswith(b"--"):
            continue
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = part.partition(b"\n\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        disposition = ""
        for line in head.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value
        nm = re.search(r'(?:^|;)\s*name=(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', disposition)
        if nm is None:
            continue
        name = nm.group(1) if nm.group(1) is not None else nm.group(2)
        if "filename=" in disposition:
            params[name] = content
        else:
            params[name] = content.decode("utf-8", "replace")
    return params


def _parse_params(query: Mapping[str, str], body: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(query)
    ctype = content_type.lower()
    if not body.strip():
        return params
    if "multipart/form-data" in ctype:
        params.update(_parse_multipart(body, content_type))
    elif "application/json" in ctype or (not ctype and body.lstrip().startswith(b"{")):
        try:
            data = json.loads(body)
        except ValueError:
            raise _ApiError(400, f"{BAD_REQUEST}can't parse JSON object") from None
        if not isinstance(data, dict):
            raise _ApiError(400, f"{BAD_REQUEST}JSON object expected")
        params.update(data)
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"{BAD_REQUEST}invalid integer value {value!r}") from None


class FakeTelegram(HttpFake):
    """An in-process Telegram Bot API server for tests."""

    server_version = "nginx/1.18.0"

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107
        username: str = "flightctl_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        on_message: Callable[[SentMessage], None] | None = None,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        super().__init__(host, port)
        self.token = token
        self.bot_id = int(bot_id)
        self.username = username
        self.on_message = on_message
        self._faults: list[Fault] = []
        self._outage: tuple[Fault, float] | None = None
        self._messages: list[SentMessage] = []
        self._attempts: list[Attempt] = []
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._next_message_id = 1

    @property
    def api_url(self) -> str:
        """Value for ``TELEGRAM_API_URL`` (clients call ``{api_url}/bot{token}/{method}``)."""
        return self.url

    # -- scripting -------------------------------------------------------------------------

    def queue_faults(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next ``sendMessage`` calls."""
        with self._cond:
            self._faults.extend(faults)

    def outage(self, fault: Fault, seconds: float) -> None:
        """Answer every ``sendMessage`` with ``fault`` for the next ``seconds`` (queued faults
        first): Telegram down (``Fault(down=True)``) or failing for a while."""
        with self._cond:
            self._outage = (fault, time.monotonic() + seconds)

    @property
    def pending_faults(self) -> int:
        """How many queued faults have not been used yet."""
        with self._cond:
            return len(self._faults)

    def push_update(self, chat_id: int | str, text: str, username: str = "someone") -> dict[str, Any]:
        """Queue an incoming private message for ``getUpdates``; returns the Update."""
        cid = int(chat_id)
        with self._cond:
            message: dict[str, Any] = {
                "message_id": self._next_message_id,
                "date": int(time.time()),
                "chat": {"id": cid, "type": "private", "username": username, "first_name": "Test"},
                "from": {
                    "id": cid,
                    "is_bot": False,
                    "first_name": "Test",
                    "username": username,
                    "language_code": "en",
                },
                "text": text,
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            update = {"update_id": self._next_update_id, "message": message}
            self._next_message_id += 1
            self._next_update_id += 1
            self._updates.append(update)
            self._cond.notify_all()
        return update

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a ``getUpdates`` offset."""
        with self._cond:
            return list(self._updates)

    # -- recording -------------------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        """Delivered messages (a copy), oldest first."""
        with self._cond:
            return list(self._messages)

    @property
    def attempts(self) -> list[Attempt]:
        """Every ``sendMessage`` call, delivered or not, oldest first."""
        with self._cond:
            return list(self._attempts)

    @property
    def calls(self) -> list[Call]:
        """Every call that named a method with the right token, oldest first."""
        with self._cond:
            return list(self._calls)

    def wait_for_messages(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` messages were delivered."""
        return self._wait_for(lambda: len(self._messages) >= n, timeout)

    def wait_for_attempts(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` ``sendMessage`` calls were answered (or dropped)."""
        return self._wait_for(lambda: len(self._attempts) >= n, timeout)

    def wait_for_calls(self, method: str, n: int, timeout: float) -> bool:
        """Wait until ``method`` (case-insensitive) was called at least ``n`` times."""
        return self._wait_for(lambda: sum(c.method.lower() == method.lower() for c in self._calls) >= n, timeout)

    # -- request handling ------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        """Route ``/bot<token>/<method>`` to the method's handler."""
        request = exchange.request
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z_]+)", request.path)
        if m is None:
            exchange.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if m.group(1) != self.token:
            exchange.send_json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        method = m.group(2)
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "getupdates": self._get_updates,
            "deletewebhook": self._true,
            "setmycommands": self._true,
            "getwebhookinfo": self._webhook_info,
        }.get(method.lower())
        if handler is None:
            exchange.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            params = _parse_params(request.query, request.body, request.headers.get("content-type", ""))
        except _ApiError as err:
            exchange.send_json(err.status, _error(err.status, err.description))
            return
        with self._cond:
            self._calls.append(Call(method, params, time.time()))
            self._cond.notify_all()
        handler(exchange, params)

    def _true(self, exchange: Exchange, params: dict[str, Any]) -> None:
        exchange.send_json(200, {"ok": True, "result": True})

    def _webhook_info(self, exchange: Exchange, params: dict[str, Any]) -> None:
        result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        exchange.send_json(200, {"ok": True, "result": result})

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "flightctl test",
            "username": self.username,
        }

    def _get_me(self, exchange: Exchange, params: dict[str, Any]) -> None:
        result = {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        exchange.send_json(200, {"ok": True, "result": result})

    def _send_message(self, exchange: Exchange, params: dict[str, Any]) -> None:
        raw_chat = params.get("chat_id")
        chat_id = None if raw_chat is None else str(raw_chat)
        text = params.get("text")
        text = None if text is None else str(text)
        parse_mode = params.get("parse_mode") or None
        parse_mode = None if parse_mode is None else str(parse_mode)

        def attempt(status: int | None, description: str | None = None) -> None:
            with self._cond:
                self._attempts.append(Attempt(chat_id, text, parse_mode, status, time.time(), description))
                self._cond.notify_all()

        with self._cond:
            fault = self._faults.pop(0) if self._faults else None
            if fault is None and self._outage is not None and time.monotonic() < self._outage[1]:
                fault = self._outage[0]
        if fault is not None:
            if fault.delay > 0:
                self._stopping.wait(fault.delay)
            if fault.down:
                attempt(None, "connection dropped")
                exchange.drop()
                return
            if fault.status is not None:
                answer = self._fault_answer(fault)
                attempt(fault.status, answer["description"])
                exchange.send_json(fault.status, answer)
                return

        try:
            chat = _chat(chat_id)
            if not text or not text.strip():
                raise _ApiError(400, f"{BAD_REQUEST}message text is empty")
            plain = plain_text(text, parse_mode)
            if not plain.strip():
                raise _ApiError(400, f"{BAD_REQUEST}message text is empty")
            if len(plain) > MAX_TEXT_LENGTH:
                raise _ApiError(400, f"{BAD_REQUEST}message is too long")
        except _ApiError as err:
            attempt(err.status, err.description)
            exchange.send_json(err.status, _error(err.status, err.description))
            return

        now = time.time()
        with self._cond:
            message_id = self._next_message_id
            self._next_message_id += 1
            sent = SentMessage(cast(str, chat_id), text, parse_mode, now, message_id, dict(params))
            self._messages.append(sent)
            self._attempts.append(Attempt(chat_id, text, parse_mode, 200, now))
            self._cond.notify_all()
        if self.on_message is not None:
            self.on_message(sent)
        result = {
            "message_id": message_id,
            "from": self._bot_user(),
            "date": int(now),
            "chat": chat,
            "text": plain,
        }
        exchange.send_json(200, {"ok": True, "result": result})

    @staticmethod
    def _fault_answer(fault: Fault) -> dict[str, Any]:
        status = cast(int, fault.status)
        if status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            description = fault.description or f"Too Many Requests: retry after {retry}"
            answer = _error(429, description)
            answer["parameters"] = {"retry_after": retry}
            return answer
        return _error(status, fault.description or _FAULT_DESCRIPTIONS.get(status, "Error"))

    def _get_updates(self, exchange: Exchange, params: dict[str, Any]) -> None:
        try:
            offset = _as_int(params.get("offset"), 0)
            limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
            timeout = max(_as_int(params.get("timeout"), 0), 0)
        except _ApiError as err:
            exchange.send_json(err.status, _error(err.status, err.description))
            return

        def select() -> list[dict[str, Any]]:
            # The real API forgets the updates an offset confirms.
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return self._updates[:limit]

        with self._cond:
            found = select()
            if not found and timeout > 0:
                self._cond.wait_for(
                    lambda: bool(select()) or self._stopping.is_set(),
                    timeout=min(timeout, MAX_LONG_POLL_SECONDS),
                )
                found = select()
        exchange.send_json(200, {"ok": True, "result": found})


def _error(status: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": status, "description": description}


def _chat(chat_id: str | None) -> dict[str, Any]:
    if chat_id is None or chat_id.strip() == "":
        raise _ApiError(400, f"{BAD_REQUEST}chat_id is empty")
    if re.fullmatch(r"-?[0-9]+", chat_id):
        cid = int(chat_id)
        if cid > 0:
            return {"id": cid, "type": "private"}
        return {"id": cid, "type": "supergroup" if chat_id.startswith("-100") else "group"}
    if re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}", chat_id):
        cid = -1_000_000_000_000 - zlib.crc32(chat_id.lower().encode())
        return {"id": cid, "type": "channel", "username": chat_id[1:]}
    raise _ApiError(400, f"{BAD_REQUEST}chat not found")


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; print the URL, then each delivered message, as JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--username", default="flightctl_test_bot")
    args = parser.parse_args(argv)

    print_lock = threading.Lock()

    def emit(obj: Mapping[str, Any]) -> None:
        with print_lock:
            print(json.dumps(obj, ensure_ascii=False), flush=True)

    def on_message(message: SentMessage) -> None:
        record = asdict(message)
        record.pop("params", None)
        emit(record)

    fake = FakeTelegram(
        token=args.token,
        username=args.username,
        host=args.host,
        port=args.port,
        on_message=on_message,
    )
    return serve_until_signalled(fake, lambda: emit({"api_url": fake.api_url}))


if __name__ == "__main__":
    sys.exit(main())
