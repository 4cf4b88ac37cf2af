"""The HTTP source: GET a REST API's JSON (page by page), write its records as one NDJSON file
into `landing/<source>/`, where the normal ingest takes it into `bronze.<source>`.

Secrets: the `${VAR}`s of the source's url, headers and params are resolved here, for the
requests of one pull, and live only in this module's locals. Every text that leaves a pull (the
error of a SourceError, the records written) goes through `Secrets.redact*`, and the messages are
built from the source's configured URL (placeholders unresolved, query dropped), never from the
URL httpx sent or from its exceptions' texts unredacted. Response bodies are never printed; an
error names at most a short, redacted `message`/`error` field of a JSON error body.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from rat_tui._version import __version__
from rat_tui.engine.errors import first_line
from rat_tui.engine.sources.secrets import SENSITIVE_HEADER, MissingVariable, Secrets
from rat_tui.engine.sources.spec import HttpSource

# httpx logs every request's full URL (query and all) at INFO: never let it reach a handler.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

BACKOFF_SECONDS = 0.5  # before the first retry; doubled for each next one
MAX_BACKOFF_SECONDS = 30.0  # a server's Retry-After is honoured up to this
ERROR_FIELDS = ("error_description", "message", "error", "detail", "title")
EXCERPT_CHARS = 200
MAX_ERROR_BODY = 1 << 20  # a larger error body is not looked into at all
TEMP_PREFIX = ".rat-pull-"  # a dotfile ending in .part: ingest and watch never take it


class SourceError(Exception):
    """A pull failed. The message is one line for a user to read, free of any secret value."""

    def __init__(self, message: str, pages: int = 0) -> None:
        super().__init__(message)
        self.pages = pages


@dataclass
class PullResult:
    records: int
    pages: int
    file: str | None  # the landing file written, relative to landing/ (None: no records, no file)


def pull(
    source: HttpSource,
    landing: Path,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PullResult:
    """Pull every page of the source and land its records as `landing/<name>/<UTC time>.ndjson`
    (written under a temporary dotfile name, renamed in whole); nothing is written when the pull
    finds no records or fails."""
    secrets = Secrets(os.environ if env is None else env)
    try:
        url = secrets.resolve(source.url, "url")
        headers = {k: secrets.resolve(v, f"headers.{k}") for k, v in source.headers.items()}
        params = {k: secrets.resolve(v, f"params.{k}") for k, v in source.params.items()}
    except MissingVariable as exc:
        raise SourceError(
            f"environment variable {exc.name} is not set (sources.{source.name}.{exc.where} uses it); "
            "set it in the environment rat runs in"
        ) from None
    for name, value in headers.items():
        if SENSITIVE_HEADER.search(name):
            secrets.add(value)  # the whole value, even written literally in rat.toml

    folder = landing / source.name
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = folder / f"{TEMP_PREFIX}{stamp}.ndjson.part"
    puller = _Puller(source, url, headers, params, secrets, sleep)
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob(f"{TEMP_PREFIX}*.part"):  # a pull killed part-way (only a writer pulls)
                stale.unlink(missing_ok=True)
            with open(tmp, "w", encoding="utf-8") as out:
                puller.run(out)
                out.flush()
                os.fsync(out.fileno())
        except SourceError as exc:
            raise SourceError(secrets.redact(str(exc)), puller.pages) from None
        except Exception as exc:  # a local problem (landing/ not writable) or an unforeseen one
            text = f"pulling {puller.where()} failed: {type(exc).__name__} ({first_line(exc)})"
            raise SourceError(secrets.redact(text), puller.pages) from None
        if not puller.records:
            return PullResult(0, puller.pages, None)
        final = folder / f"{stamp}.ndjson"
        n = 1
        while final.exists():
            final = folder / f"{stamp}-{n}.ndjson"
            n += 1
        os.replace(tmp, final)
        return PullResult(puller.records, puller.pages, final.relative_to(landing).as_posix())
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


class _Puller:
    """The requests of one pull: pagination, retries, records."""

    def __init__(
        self,
        source: HttpSource,
        url: str,
        headers: dict[str, str],
        params: dict[str, str],
        secrets: Secrets,
        sleep: Callable[[float], None],
    ) -> None:
        self.source = source
        self.url = url
        self.headers = {"Accept": "application/json", "User-Agent": f"rat/{__version__}", **headers}
        self.params = params
        self.secrets = secrets
        self.sleep = sleep
        self.pages = 0  # pages pulled whole
        self.records = 0

    def where(self) -> str:
        page = f" (page {self.pages + 1})" if self.pages or self.source.pagination else ""
        return f"{self.source.display_url}{page}"

    def run(self, out: IO[str]) -> None:
        p = self.source.pagination
        max_pages = p.max_pages if p is not None else 1
        url: str | httpx.URL = self.url
        params = dict(self.params)
        number = p.start if p is not None else 0
        if p is not None and p.type == "page":
            params[p.param] = str(number)
        seen: set[str] = set()
        with httpx.Client(timeout=httpx.Timeout(self.source.timeout), follow_redirects=True) as client:
            while True:
                if self.pages >= max_pages:
                    raise SourceError(
                        f"GET {self.where()} not done: stopped after {max_pages} pages "
                        f"(sources.{self.source.name}.pagination.max_pages); raise it if the API has more pages, "
                        "or check the pagination settings"
                    )
                response = self._get(client, url, params)
                body = self._json(response)
                records = self._records(body)
                for record in records:
                    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
                    out.write(self.secrets.redact_data(line) + "\n")
                self.records += len(records)
                self.pages += 1
                if p is None:
                    return
                if p.type == "page":
                    if not records:
                        return
                    number += 1
                    params[p.param] = str(number)
                    continue
                nxt = _dig(body, p.path) if p.path else response.links.get("next", {}).get("url")
                if nxt is None or nxt == "" or nxt is False:
                    return
                if not isinstance(nxt, (str, int)) or isinstance(nxt, bool):
                    raise SourceError(
                        f"GET {self.where()}: pagination.path `{p.path}` holds a {_json_type(nxt)}, "
                        "not a cursor or a URL"
                    )
                if p.type == "cursor":
                    token = str(nxt)
                    if token in seen:
                        raise SourceError(f"GET {self.where()}: the API sent a cursor again; check pagination.path")
                    seen.add(token)
                    params[p.param] = token
                    continue
                next_url = response.url.join(str(nxt))
                here = response.url
                if (next_url.scheme, next_url.host, next_url.port) != (here.scheme, here.host, here.port):
                    raise SourceError(
                        f"GET {self.where()}: the next page's URL is on another host ({next_url.host}); "
                        "rat sends a source's headers only to the host of its url"
                    )
                if str(next_url) in seen:
                    raise SourceError(f"GET {self.where()}: the API sent a next URL again; check pagination")
                seen.add(str(next_url))
                url, params = next_url, dict(self.params)  # the configured params go with every page

    def _get(self, client: httpx.Client, url: str | httpx.URL, params: dict[str, str]) -> httpx.Response:
        """One page, retried on connection errors, timeouts, 429 and 5xx (with backoff)."""
        attempts = self.source.retries + 1
        problem = ""
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                # Merged by hand: httpx's params= would replace a query the URL already has (the
                # configured url's own, or a next link's).
                response = client.get(httpx.URL(url).copy_merge_params(params), headers=self.headers)
            except httpx.TransportError as exc:
                problem = self._transport_problem(exc)
            else:
                code = response.status_code
                if code < 400:
                    return response
                problem = f"HTTP {code} {response.reason_phrase}{self._excerpt(response)}"
                if code != 429 and code < 500:
                    raise SourceError(f"GET {self.where()} failed: {problem}{self._hint(code)}")
                retry_after = _retry_after(response)
            if attempt + 1 < attempts:
                delay = retry_after if retry_after is not None else BACKOFF_SECONDS * 2**attempt
                self.sleep(min(delay, MAX_BACKOFF_SECONDS))
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise SourceError(f"GET {self.where()} failed: {problem}{tries}")

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
            return f"; check the credentials in sources.{name}.headers and .params (and their ${{VAR}}s)"
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
                # Redacted before it is cut, so no part of a secret survives the cut.
                text = self.secrets.redact(" ".join(value.split()))
                cut = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
                return f" (server: {cut})"
        return ""

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type").split(";", 1)[0].strip()
            raise SourceError(
                f"GET {self.where()}: the response is not JSON ({kind}, {len(response.content):,} bytes); "
                f"check sources.{self.source.name}.url"
            ) from None

    def _records(self, body: Any) -> list[dict[str, Any]]:
        path = self.source.records
        node = body
        walked: list[str] = []
        for part in path.split(".") if path else []:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                missing = ".".join([*walked, part])
                raise SourceError(
                    f"GET {self.where()}: the response has no `{missing}` ({_shape(node, walked, self.secrets.redact)}); "
                    f'set sources.{self.source.name}.records to the path of the list of records ("" = the whole body)'
                )
            walked.append(part)
        if node is None:
            return []  # `"data": null` on a last page
        if not isinstance(node, list):
            raise SourceError(
                f"GET {self.where()}: {_shape(node, walked, self.secrets.redact)}, not a list of records; "
                f"set sources.{self.source.name}.records to the path of the list"
            )
        odd = next((r for r in node if not isinstance(r, dict)), None)
        if odd is not None:
            raise SourceError(
                f"GET {self.where()}: the records must be JSON objects, but one is a {_json_type(odd)}; "
                f"check sources.{self.source.name}.records"
            )
        return node


def _dig(body: Any, path: str) -> Any:
    node = body
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def _shape(node: Any, walked: list[str], redact: Callable[[str], str]) -> str:
    what = f"`{'.'.join(walked)}`" if walked else "the body"
    if isinstance(node, dict):
        # Each key redacted before it is cut: a cut secret would no longer be found whole.
        keys = [k if len(k) <= 40 else k[:39] + "…" for k in map(redact, list(node)[:10])]
        more = ", …" if len(node) > 10 else ""
        return f"{what} is an object with keys: {', '.join(keys) or '(none)'}{more}"
    if isinstance(node, list):
        return f"{what} is a list of {len(node)}"
    return f"{what} is a {_json_type(node)}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the usual backoff will do
