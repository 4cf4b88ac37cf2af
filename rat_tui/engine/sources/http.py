"""The HTTP and GraphQL sources: a REST API's JSON (page by page) or a GraphQL query's, written as
one NDJSON file into `landing/<source>/`, where the normal ingest takes it into `bronze.<source>`.

Incremental sources (`[sources.<name>.incremental]`, see `cursor`) ask for values `>=` the last
one, hold back what is newer than the moment the pull started, drop what bronze already holds,
and leave the new cursor beside the file for the ingest to commit with its rows.

Secrets: the `${VAR}`s of the source's url, headers, params, variables and auth are resolved here,
for the requests of one pull, and live only in this module's locals. Every text that leaves a
pull (the error of a SourceError, the records written) goes through `Secrets.redact*`, and the
messages are built from the source's configured URL (placeholders unresolved, query dropped),
never from the URL httpx sent or from its exceptions' texts unredacted. Response bodies are never
printed; an error names at most a short, redacted `message`/`error` field of a JSON error body.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rat_tui.engine.errors import first_line
from rat_tui.engine.sources import cursor
from rat_tui.engine.sources.auth import Authenticator
from rat_tui.engine.sources.pages import Pager
from rat_tui.engine.sources.requester import Requester, SourceError
from rat_tui.engine.sources.secrets import SENSITIVE_HEADER, MissingVariable, Secrets
from rat_tui.engine.sources.spec import HttpSource

__all__ = ["PullResult", "SourceError", "pull"]

# httpx logs every request's full URL (query and all) at INFO: never let it reach a handler.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

TEMP_PREFIX = ".rat-pull-"  # a dotfile ending in .part: ingest and watch never take it


@dataclass
class PullResult:
    records: int
    pages: int
    file: str | None  # the landing file written, relative to landing/ (None: no records, no file)
    requests: int = 0
    cursor: str | int | float | None = None  # incremental: the value the next pull starts from
    dropped: int = 0  # incremental: records bronze already held (the boundary, the lookback)
    held_back: int = 0  # incremental: records newer than the pull's start, left for the next pull
    warnings: list[str] = field(default_factory=list)


def pull(
    source: HttpSource,
    landing: Path,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    bronze: Path | None = None,
    full: bool = False,
) -> PullResult:
    """Pull every page of the source and land its records as `landing/<name>/<UTC time>.ndjson`
    (written under a temporary dotfile name, renamed in whole); nothing is written when the pull
    finds no records or fails. `bronze`: the table's folder, where an incremental source's
    cursor and landed records are (`full`: start from `initial` instead)."""
    secrets = Secrets(os.environ if env is None else env)
    try:
        url = secrets.resolve(source.url, "url")
        headers = {k: secrets.resolve(v, f"headers.{k}") for k, v in source.headers.items()}
        params = {k: secrets.resolve(v, f"params.{k}") for k, v in source.params.items()}
        variables = {
            k: secrets.resolve(v, f"variables.{k}") if isinstance(v, str) else v for k, v in source.variables.items()
        }
        auth = Authenticator(source.auth, secrets, f"sources.{source.name}.auth") if source.auth else None
    except MissingVariable as exc:
        raise SourceError(
            f"environment variable {exc.name} is not set (sources.{source.name}.{exc.where} uses it); "
            "set it in the environment rat runs in"
        ) from None
    for name, value in headers.items():
        if SENSITIVE_HEADER.search(name):
            secrets.add(value)  # the whole value, even written literally in rat.toml

    window = _Window(source, None if full or bronze is None else cursor.stored_state(bronze), bronze, full)
    window.ask(params, variables)
    folder = landing / source.name
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = folder / f"{TEMP_PREFIX}{stamp}.ndjson.part"
    pager: Pager | None = None
    requester = Requester(source, headers, secrets, sleep, auth, lambda: pager.where() if pager else source.display_url)
    pager = Pager(source, url, params, variables, requester, secrets.redact)
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in [*folder.glob(f"{TEMP_PREFIX}*.part"), *folder.glob(f"{TEMP_PREFIX}*{cursor.SIDECAR_SUFFIX}")]:
                stale.unlink(missing_ok=True)  # a pull killed part-way (only a writer pulls)
            with open(tmp, "w", encoding="utf-8") as out:
                for page in pager:
                    window.write(page, out, secrets, pager.where)
                out.flush()
                os.fsync(out.fileno())
            records = window.settle(tmp)
        except SourceError as exc:
            raise SourceError(secrets.redact(str(exc)), pager.pages) from None
        except Exception as exc:  # a local problem (landing/ not writable) or an unforeseen one
            text = f"pulling {pager.where()} failed: {type(exc).__name__} ({first_line(exc)})"
            raise SourceError(secrets.redact(text), pager.pages) from None
        finally:
            requester.close()
        result = PullResult(records, pager.pages, None, requester.requests, window.next_value(), window.dropped)
        result.held_back = window.held
        result.warnings = [w for w in (pager.warning, window.held_warning()) if w]
        if not records:
            return result
        final = folder / f"{stamp}.ndjson"
        n = 1
        while final.exists():
            final = folder / f"{stamp}-{n}.ndjson"
            n += 1
        if source.incremental is not None:
            # The state first: a file in landing/ always has its cursor beside it.
            cursor.write_state(cursor.sidecar(final), window.state(records, pager.pages))
        os.replace(tmp, final)
        result.file = final.relative_to(landing).as_posix()
        return result
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


class _Window:
    """An incremental pull's bounds: from the last value (less the lookback) to the moment the
    pull started; which records it lands, and the value the next pull starts from."""

    def __init__(self, source: HttpSource, state: dict[str, Any] | None, bronze: Path | None, full: bool) -> None:
        self.source = source
        self.check_all = full  # --full: every record is looked up in bronze, which lands only what it lacks
        self.inc = source.incremental
        self.bronze = bronze
        self.last = state.get("cursor") if state else (self.inc.initial if self.inc else None)
        self.last_value = cursor.Value(self.last) if self.last is not None else None
        self.upper = cursor.now_like(self.last) if self.inc else None
        self.upper_value = cursor.Value(self.upper) if self.upper is not None else None
        self.max: cursor.Value | None = None
        self.candidates: set[str] = set()  # hashes of the records at or before the last value
        self.dropped = 0
        self.held = 0
        self.first_held = ""
        self.written = 0  # records written to the pull's file

    def ask(self, params: dict[str, str], variables: dict[str, Any]) -> None:
        if self.inc is None:
            return
        target: dict[str, Any] = variables if self.source.type == "graphql" else params
        if self.last_value is not None:
            numeric = self.last_value.key[0] == 0
            if numeric and self.inc.lookback and self.inc.lookback_is_duration:
                raise SourceError(
                    f"sources.{self.source.name}.incremental.lookback = {self.inc.lookback_text!r} is a duration, but "
                    f"the cursor {self.last!r} is a number; give the lookback as a number of cursor units"
                )
            since = self.last_value.minus(self.inc.lookback)
            if self.inc.initial is not None and cursor.Value(since) < cursor.Value(self.inc.initial):
                since = self.inc.initial  # the lookback never reaches before the first pull's value
            target[self.inc.param] = since if self.source.type == "graphql" else str(since)
        if self.inc.end_param and self.upper is not None:
            target[self.inc.end_param] = self.upper

    def write(self, records: list[dict[str, Any]], out: IO[str], secrets: Secrets, where: Callable[[], str]) -> None:
        for record in records:
            for key in self.source.primary_key:
                if cursor.dig(record, key) is None:
                    raise SourceError(
                        f"{where()}: a record has no `{key}` (sources.{self.source.name}.primary_key); "
                        "check the setting or the records path"
                    )
            if self.inc is not None and not self._keep(record, where):
                continue
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            out.write(secrets.redact_data(line) + "\n")
            self.written += 1

    def _keep(self, record: dict[str, Any], where: Callable[[], str]) -> bool:
        assert self.inc is not None
        raw = cursor.dig(record, self.inc.cursor_field)
        if raw is None or isinstance(raw, (bool, dict, list)):
            raise SourceError(
                f"{where()}: a record has no value at `{self.inc.cursor_field}` "
                f"(sources.{self.source.name}.incremental.cursor_field); check the setting"
            )
        value = cursor.Value(raw)
        if self.upper_value is not None and value.time is not None and self.upper_value < value:
            self.held += 1  # newer than the pull's start: the next pull takes it whole
            self.first_held = self.first_held or str(raw)
            return False
        record.pop(cursor.HASH_FIELD, None)
        digest = cursor.record_hash(record)
        if self.check_all or (self.last_value is not None and value <= self.last_value):
            if digest in self.candidates:
                self.dropped += 1
                return False
            self.candidates.add(digest)
        record[cursor.HASH_FIELD] = digest
        if self.max is None or self.max < value:
            self.max = value
        return True

    def settle(self, tmp: Path) -> int:
        """Drop the records bronze already holds (rewriting the file when there are any); the
        number of records the file keeps."""
        landed = cursor.landed_hashes(self.bronze, self.candidates) if self.bronze is not None else set()
        if not landed:
            return self.written
        kept = 0
        keep = tmp.with_name(tmp.name + ".keep.part")
        with open(tmp, encoding="utf-8") as src, open(keep, "w", encoding="utf-8") as dst:
            for line in src:
                if json.loads(line).get(cursor.HASH_FIELD) in landed:
                    self.dropped += 1
                    continue
                dst.write(line)
                kept += 1
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(keep, tmp)
        return kept

    def held_warning(self) -> str:
        if not self.held:
            return ""
        return (
            f"sources.{self.source.name}: {self.held:,} record{'s' if self.held != 1 else ''} with "
            f"{self.inc.cursor_field if self.inc else 'a cursor'} after this pull began ({self.upper}), "
            f"e.g. {self.first_held}, left for the next pull; if it is in the future, the API's clock or data is off"
        )

    def next_value(self) -> str | int | float | None:
        if self.inc is None:
            return None
        return self.max.raw if self.max is not None else self.last

    def state(self, records: int, pages: int) -> dict[str, Any]:
        return {
            "cursor": self.next_value(),
            "pulled_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "records": records,
            "pages": pages,
            "dropped": self.dropped,
            "held_back": self.held,
        }
