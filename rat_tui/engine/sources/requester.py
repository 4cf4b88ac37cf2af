"""The requests of one pull: GET (REST) or POST (GraphQL), retried with backoff on connection
errors, timeouts, 429 and 5xx (honouring Retry-After), at most `rate_limit` a second, with the
source's auth; every message redacted and built from the configured URL, never from the URL
sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from rat_tui._version import __version__
from rat_tui.engine.errors import first_line
from rat_tui.engine.sources.auth import Authenticator, AuthError
from rat_tui.engine.sources.secrets import Secrets
from rat_tui.engine.sources.spec import HttpSource

BACKOFF_SECONDS = 0.5  # before the first retry; doubled for each next one
MAX_BACKOFF_SECONDS = 30.0  # a server's Retry-After is honoured up to this
ERROR_FIELDS = ("error_description", "message", "error", "detail", "title")
EXCERPT_CHARS = 200
MAX_ERROR_BODY = 1 << 20  # a larger error body is not looked into at all


class SourceError(Exception):
    """A pull failed. The message is one line for a user to read, free of any secret value."""

    def __init__(self, message: str, pages: int = 0) -> None:
        super().__init__(message)
        self.pages = pages


class Requester:
    def __init__(
        self,
        source: HttpSource,
        headers: dict[str, str],
        secrets: Secrets,
        sleep: Callable[[float], None],
        auth: Authenticator | None,
        where: Callable[[], str],
    ) -> None:
        self.source = source
        self.headers = {"Accept": "application/json", "User-Agent": f"rat/{__version__}", **headers}
        self.secrets = secrets
        self.sleep = sleep
        self.auth = auth
        self.where = where
        self.requests = 0
        self._last = 0.0
        self.client = httpx.Client(timeout=httpx.Timeout(source.timeout), follow_redirects=True)

    def close(self) -> None:
        self.client.close()

    def _polite(self) -> None:
        if self.source.rate_limit:
            wait = self._last + 1.0 / self.source.rate_limit - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last = time.monotonic()

    def send(self, url: str | httpx.URL, params: dict[str, str], body: dict[str, Any] | None = None) -> httpx.Response:
        """One page: GET with `params`, or POST of the JSON `body` (GraphQL); retried on
        connection errors, timeouts, 429 and 5xx, and once with a new token after a 401."""
        attempts = self.source.retries + 1
        method = "POST" if body is not None else "GET"
        problem = ""
        renewed = False
        attempt = 0
        while attempt < attempts:
            retry_after: float | None = None
            try:
                headers = {**self.headers, **(self.auth.headers(self.client) if self.auth else {})}
                basic = (self.auth.basic() if self.auth else None) or httpx.USE_CLIENT_DEFAULT
                # Merged by hand: httpx's params= would replace a query the URL already has.
                target = httpx.URL(url).copy_merge_params(params)
                self._polite()
                self.requests += 1
                response = self.client.request(method, target, json=body, headers=headers, auth=basic)
            except AuthError as exc:
                raise SourceError(f"{method} {self.where()} failed: {exc}") from None
            except httpx.TransportError as exc:
                problem = self._transport_problem(exc)
            else:
                code = response.status_code
                if code < 400:
                    return response
                if code == 401 and not renewed and self.auth is not None and self.auth.expired():
                    renewed = True  # the token expired mid-pull: one more try with a new one
                    continue
                problem = f"HTTP {code} {response.reason_phrase}{self._excerpt(response)}"
                if code != 429 and code < 500:
                    raise SourceError(f"{method} {self.where()} failed: {problem}{self._hint(code)}")
                retry_after = _retry_after(response)
            attempt += 1
            if attempt < attempts:
                delay = retry_after if retry_after is not None else BACKOFF_SECONDS * 2 ** (attempt - 1)
                self.sleep(min(delay, MAX_BACKOFF_SECONDS))
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        hint = f"; check that the API is up and sources.{self.source.name}.url" if problem.startswith("cannot") else ""
        raise SourceError(f"{method} {self.where()} failed: {problem}{tries}{hint}")

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type").split(";", 1)[0].strip()
            raise SourceError(
                f"{response.request.method} {self.where()}: the response is not JSON ({kind}, "
                f"{len(response.content):,} bytes); check sources.{self.source.name}.url"
            ) from None

    def _transport_problem(self, exc: httpx.TransportError) -> str:
        timeout = f"{self.source.timeout:g}s"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection within {timeout} (sources.{self.source.name}.timeout)"
        if isinstance(exc, httpx.TimeoutException):
            return f"no response within {timeout} (sources.{self.source.name}.timeout)"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect ({first_line(exc)})"
        return f"{type(exc).__name__} ({first_line(exc)})"

    def _hint(self, code: int) -> str:
        name = self.source.name
        if code in (401, 403):
            what = "auth" if self.source.auth else "headers and .params"
            return f"; check the credentials in sources.{name}.{what} (and their ${{VAR}}s)"
        if code in (404, 405, 410):
            return f"; check sources.{name}.url"
        return ""

    def _excerpt(self, response: httpx.Response) -> str:
        """`: <the server's message>` from a JSON error body's message/error field, redacted and
        short; "" for any other body (it is never printed)."""
        try:
            if len(response.content) > MAX_ERROR_BODY:
                return ""
            body = response.json()
        except Exception:
            return ""
        if not isinstance(body, dict):
            return ""
        for key in ERROR_FIELDS:
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return f" (server: {self.cut(value)})"
        return ""

    def cut(self, text: str) -> str:
        """A server's message, redacted before it is cut (no part of a secret survives the cut)."""
        text = self.secrets.redact(" ".join(text.split()))
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the usual backoff will do
