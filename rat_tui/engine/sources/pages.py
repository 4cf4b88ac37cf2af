"""The pages of one pull: page numbers, offsets, cursors (GraphQL's pageInfo too) or next links,
each page's records found at the source's `records` path; a cursor or link that repeats fails
the pull, `max_pages` bounds it, and a pull that stopped after one page while the response
pointed at a next one is a warning."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx

from rat_tui.engine.sources.cursor import dig
from rat_tui.engine.sources.requester import Requester, SourceError
from rat_tui.engine.sources.spec import HttpSource

# Body fields and values that say "there is a next page" when no pagination follows them.
NEXT_FIELDS = ("next", "next_page", "nextPage", "next_cursor", "nextCursor", "next_page_token", "nextPageToken")
MORE_FIELDS = ("has_more", "hasMore", "has_next", "hasNextPage", "more")


class Pager:
    def __init__(
        self,
        source: HttpSource,
        url: str,
        params: dict[str, str],
        variables: dict[str, Any],
        requester: Requester,
        redact: Callable[[str], str],
    ) -> None:
        self.source = source
        self.url = url
        self.params = params
        self.variables = variables
        self.requester = requester
        self.redact = redact
        self.pages = 0  # pages pulled whole
        self.warning = ""

    def where(self) -> str:
        page = f" (page {self.pages + 1})" if self.pages or self.source.pagination else ""
        return f"{self.source.display_url}{page}"

    def _page(
        self, url: str | httpx.URL, params: dict[str, str], variables: dict[str, Any]
    ) -> tuple[Any, httpx.Response]:
        graphql = self.source.type == "graphql"
        body = {"query": self.source.query, "variables": variables} if graphql else None
        response = self.requester.send(url, params, body)
        data = self.requester.json(response)
        if graphql:
            errors = data.get("errors") if isinstance(data, dict) else None
            if errors:  # partial data is not landed: the whole pull fails
                first = errors[0] if isinstance(errors, list) and errors else errors
                message = first.get("message") if isinstance(first, dict) else str(first)
                more = f" (and {len(errors) - 1} more)" if isinstance(errors, list) and len(errors) > 1 else ""
                raise SourceError(
                    f"POST {self.where()}: the GraphQL answer has errors{more}: {self.requester.cut(str(message))}"
                )
        return data, response

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        p = self.source.pagination
        max_pages = p.max_pages if p is not None else 1
        url: str | httpx.URL = self.url
        params, variables = dict(self.params), dict(self.variables)
        number = p.start if p is not None else 0
        if p is not None and p.type in ("page", "offset"):
            params[p.param] = str(number)
        seen: set[str] = set()
        while True:
            if self.pages >= max_pages:
                raise SourceError(
                    f"{self._verb()} {self.where()} not done: stopped after {max_pages} pages "
                    f"(sources.{self.source.name}.pagination.max_pages); raise it if the API has more pages, "
                    "or check the pagination settings"
                )
            body, response = self._page(url, params, variables)
            records = self._records(body)
            yield records
            self.pages += 1
            if p is None:
                self._one_page(body, response)
                return
            if p.type in ("page", "offset"):
                if not records:
                    return
                number += 1 if p.type == "page" else len(records)
                params[p.param] = str(number)
                continue
            if p.type == "cursor" and p.has_next and dig(body, p.has_next) is not True:
                return
            nxt = dig(body, p.path) if p.path else response.links.get("next", {}).get("url")
            if nxt is None or nxt == "" or nxt is False:
                return
            if not isinstance(nxt, (str, int)) or isinstance(nxt, bool):
                raise SourceError(
                    f"{self._verb()} {self.where()}: pagination.path `{p.path}` holds a {json_type(nxt)}, "
                    "not a cursor or a URL"
                )
            if p.type == "cursor":
                token = str(nxt)
                if token in seen:
                    raise SourceError(
                        f"{self._verb()} {self.where()}: the API sent a cursor again; check pagination.path"
                    )
                seen.add(token)
                if self.source.type == "graphql":
                    variables[p.param] = token
                else:
                    params[p.param] = token
                continue
            url, params = self._next_link(response, str(nxt), seen), dict(self.params)

    def _verb(self) -> str:
        return "POST" if self.source.type == "graphql" else "GET"

    def _next_link(self, response: httpx.Response, nxt: str, seen: set[str]) -> httpx.URL:
        next_url = response.url.join(nxt)
        here = response.url
        if (next_url.scheme, next_url.host, next_url.port) != (here.scheme, here.host, here.port):
            raise SourceError(
                f"GET {self.where()}: the next page's URL is on another host ({next_url.host}); "
                "rat sends a source's headers only to the host of its url"
            )
        if str(next_url) in seen:
            raise SourceError(f"GET {self.where()}: the API sent a next URL again; check pagination")
        seen.add(str(next_url))
        return next_url

    def _one_page(self, body: Any, response: httpx.Response) -> None:
        """No pagination is configured: warn when the answer points at a next page."""
        hint = ""
        if "next" in response.links:
            hint = "a Link header with rel=next"
        elif isinstance(body, dict):
            for name in NEXT_FIELDS:
                if body.get(name) not in (None, "", False):
                    hint = f"`{name}` in the body"
                    break
            for name in MORE_FIELDS if not hint else ():
                if body.get(name) is True:
                    hint = f"`{name}: true` in the body"
                    break
        if hint:
            self.warning = (
                f"sources.{self.source.name}: the pull stopped after one page, but the answer points at a next "
                f"one ({hint}); set [sources.{self.source.name}.pagination] or more records stay behind"
            )

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
                    f"{self._verb()} {self.where()}: the response has no `{missing}` ({shape(node, walked, self.redact)}); "
                    f'set sources.{self.source.name}.records to the path of the list of records ("" = the whole body)'
                )
            walked.append(part)
        if node is None:
            return []  # `"data": null` on a last page
        if not isinstance(node, list):
            raise SourceError(
                f"{self._verb()} {self.where()}: {shape(node, walked, self.redact)}, not a list of records; "
                f"set sources.{self.source.name}.records to the path of the list"
            )
        if self.source.type == "graphql" and path.endswith(".edges"):
            node = [e.get("node") if isinstance(e, dict) and "node" in e else e for e in node]
        odd = next((r for r in node if not isinstance(r, dict)), None)
        if odd is not None:
            raise SourceError(
                f"{self._verb()} {self.where()}: the records must be JSON objects, but one is a {json_type(odd)}; "
                f"check sources.{self.source.name}.records"
            )
        return node


def json_type(value: Any) -> str:
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


def shape(node: Any, walked: list[str], redact: Callable[[str], str]) -> str:
    what = f"`{'.'.join(walked)}`" if walked else "the body"
    if isinstance(node, dict):
        # Each key redacted before it is cut: a cut secret would no longer be found whole.
        keys = [k if len(k) <= 40 else k[:39] + "…" for k in map(redact, list(node)[:10])]
        more = ", …" if len(node) > 10 else ""
        return f"{what} is an object with keys: {', '.join(keys) or '(none)'}{more}"
    if isinstance(node, list):
        return f"{what} is a list of {len(node)}"
    return f"{what} is a {json_type(node)}"
