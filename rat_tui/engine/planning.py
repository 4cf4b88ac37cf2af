"""What a run would do with each model, decided in one place for `rat run` and for `rat status`.

A model is up to date when its fingerprint (SQL, settings, checks, upstream fingerprints) and the
versions of the tables it reads are those of its last good build: putting a broken model's last
good SQL back makes it up to date again, whatever failed in between. Otherwise it is stale and a
run builds it (from its new input rows alone when it is incremental and only appends happened).
When only its checks changed (the fingerprint's checks part), a run re-checks the published
table instead, and nothing downstream is rebuilt for it.
`predict` says what the next `rat run` will do with every model, so that `rat status` never
disagrees with it: up to date, stale, failing as its last attempt at this very SQL and these
inputs did, or skipped behind such a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rat_tui.engine import lake
from rat_tui.engine.errors import Where
from rat_tui.engine.states import FAILING, BuildState

if TYPE_CHECKING:
    from rat_tui.engine.models import Graph, Model
    from rat_tui.engine.records import Fingerprint
    from rat_tui.engine.state import State
    from rat_tui.engine.workspace import Workspace

OK, STALE, NEVER_BUILT = BuildState.OK, BuildState.STALE, BuildState.NEVER_BUILT
FAILED, CHECK_FAILED, SKIPPED, ERROR = BuildState.FAILED, BuildState.CHECK_FAILED, BuildState.SKIPPED, BuildState.ERROR


@dataclass
class Plan:
    """How one model is built this run."""

    action: str  # skip | check (its checks alone changed: re-check the published table) | full | incremental
    new_files: list[str] = field(default_factory=list)  # the incremental input's appended files
    prior_input_version: int | None = None


@dataclass(frozen=True)
class Prediction:
    """What the next run does with a model, in the words `rat status` uses."""

    state: BuildState
    detail: str  # "up to date, matches version 3", the error, why it is stale or skipped
    where: Where | None = None  # the file, line and check a failing model's error points at


class Planner:
    """Decides, from state.sqlite and the lake's versions, what a model's next build is."""

    def __init__(self, ws: Workspace, state: State) -> None:
        self.ws = ws
        self.state = state

    def input_versions(self, model: Model, graph: Graph) -> dict[str, int]:
        """The data version of every lake table the model reads (a vacuum's commits do not count),
        looking through views to their tables."""
        out: dict[str, int] = {}
        for dep in model.depends_on:
            upstream = graph.models.get(dep)
            if upstream is not None and upstream.materialized == "view":
                out.update(self.input_versions(upstream, graph))
                continue
            version = lake.data_version(self.ws.table_path(dep))
            out[dep] = -1 if version is None else version
        return out

    def plan(
        self, model: Model, fingerprint: Fingerprint, inputs: dict[str, int], prior: dict | None, force: bool
    ) -> Plan:
        table_version = lake.data_version(self.ws.table_path(model.name))  # a vacuum of it is no change
        exists = model.materialized == "view" or table_version is not None
        same_model = (
            prior is not None
            and prior["fingerprint"] == fingerprint.data
            and prior["materialized"] == model.materialized
            and exists
        )
        if force or not same_model:
            return Plan("full")
        assert prior is not None
        if model.fired(prior.get("built_at")) is not None:
            return Plan("full")  # its schedule fired since its last build: rebuilt without new input
        if prior["inputs"] == inputs:
            return Plan("skip") if prior.get("checks_fingerprint") == fingerprint.checks else Plan("check")
        if model.materialized != "incremental" or prior.get("table_version") != table_version:
            return Plan("full")  # not incremental, or the table changed outside a build (a rollback)
        source = model.incremental_input
        assert source is not None
        others_same = all(prior["inputs"].get(t) == v for t, v in inputs.items() if t != source)
        before = prior["inputs"].get(source)
        if not others_same or before is None or before < 0:
            return Plan("full")
        appended = self.appended_files(source, before)
        if appended is None:
            return Plan("full")
        return Plan("incremental", appended, before)

    def appended_files(self, table: str, since: int) -> list[str] | None:
        """Files added to `table` after version `since`, or None if anything but appends happened."""
        path = self.ws.table_path(table)
        try:
            old = set(lake.files_at(path, since))
        except Exception:
            return None  # that version is gone (vacuumed): rebuild in full
        current = list(lake.open_table(path).file_uris())  # type: ignore[union-attr]
        if not old <= set(current):
            return None
        return [f for f in current if f not in old]

    def predict(self, graph: Graph, waiting: dict[str, int] | None = None) -> dict[str, Prediction]:
        """What `rat run` (no selectors, no --full-refresh) would do with every model right now;
        `waiting` counts the files in landing/ each bronze table will ingest first."""
        waiting = waiting or {}
        states = self.state.all_model_states()
        attempts = self.state.last_attempts()
        fingerprints: dict[str, Fingerprint] = {}
        rechecked: set[str] = set()  # models a run re-checks without rebuilding them
        recheck_failed: set[str] = set()  # models whose checks alone failed, on what they published
        out: dict[str, Prediction] = {}
        for name in graph.order:
            model = graph.models[name]
            fingerprints[name] = model.fingerprint(fingerprints)
            if name in graph.errors:
                bad = graph.errors[name]
                out[name] = Prediction(ERROR, str(bad), bad.where)
                continue
            blockers = [d for d in model.depends_on if d in out and out[d].state in (*FAILING, SKIPPED)]
            if blockers and all(d in recheck_failed for d in blockers) and name in states:
                # Only checks fail upstream, on data already published (as the build does): an up
                # to date model stays so; one that would be built is skipped.
                plan = self.plan(model, fingerprints[name], self.input_versions(model, graph), states[name], False)
                if plan.action == "skip":
                    blockers = []
            blocker = blockers[0] if blockers else None
            if blocker is not None:
                up = out[blocker]
                why = up.detail if up.state == SKIPPED else f"upstream {blocker} {_failed_words(up.state)}"
                out[name] = Prediction(SKIPPED, why)
                continue
            inputs = self.input_versions(model, graph)
            prior = states.get(name)
            if prior is not None:
                # New rows on the way: files waiting for a bronze table, or an upstream table rebuilt first.
                feeding = [t for t in self._tables_read(model, graph) if waiting.get(t)]
                rebuilt = [
                    d
                    for d in model.depends_on
                    if d in out
                    and out[d].state in (STALE, NEVER_BUILT)
                    and graph.models[d].materialized != "view"
                    and d not in rechecked
                ]
                if feeding or rebuilt:
                    why = (
                        f"new files wait in landing/ for {', '.join(feeding)}"
                        if feeding
                        else f"upstream {', '.join(rebuilt)} is rebuilt first"
                    )
                    out[name] = Prediction(STALE, f"{why}: the next run builds it")
                    continue
            plan = self.plan(model, fingerprints[name], inputs, prior, force=False)
            if plan.action == "skip":
                assert prior is not None
                version = prior.get("table_version")
                what = f"matches version {version}" if version is not None else "the view matches its SQL"
                out[name] = Prediction(OK, f"up to date, {what}")
                continue
            last = attempts.get(name) or {}
            failing = last.get("status") in (FAILED, CHECK_FAILED)
            if failing and last["fingerprint"] == fingerprints[name].key and last["inputs"] == inputs:
                where = Where(last["error_file"], last["error_line"], last["error_check"])
                out[name] = Prediction(last["status"], last["error"] or "its last build failed", where)
                if last["status"] == CHECK_FAILED and last.get("mode") == "checks":
                    recheck_failed.add(name)
                continue
            if plan.action == "check":
                rechecked.add(name)
                rel = model.path.relative_to(self.ws.root).as_posix()
                why = f"the checks of {rel} changed since its last build: the next run re-checks it (no rebuild)"
                out[name] = Prediction(STALE, why)
                continue
            out[name] = _stale(model, prior, fingerprints[name], inputs, self.ws)
        return out

    def _tables_read(self, model: Model, graph: Graph) -> list[str]:
        """The lake tables a model reads, looking through views."""
        out: list[str] = []
        for dep in model.depends_on:
            upstream = graph.models.get(dep)
            if upstream is not None and upstream.materialized == "view":
                out += self._tables_read(upstream, graph)
            else:
                out.append(dep)
        return out


def _failed_words(state: BuildState) -> str:
    return {CHECK_FAILED: "failed its checks", ERROR: "cannot be built"}.get(state, "failed")


def _stale(
    model: Model, prior: dict[str, Any] | None, fingerprint: Fingerprint, inputs: dict[str, int], ws: Workspace
) -> Prediction:
    rel = model.path.relative_to(ws.root).as_posix()
    if prior is None:
        return Prediction(NEVER_BUILT, "never built: the next run builds it")
    if prior["fingerprint"] != fingerprint.data or prior["materialized"] != model.materialized:
        return Prediction(STALE, f"{rel} or a model it reads changed since its last build: the next run builds it")
    changed = [f"{t} {prior['inputs'].get(t, '-')} -> {v}" for t, v in inputs.items() if prior["inputs"].get(t) != v]
    if changed:
        return Prediction(STALE, f"its inputs changed ({', '.join(changed)}): the next run builds it")
    fired = model.fired(prior.get("built_at"))
    if fired is not None:
        when = fired.isoformat(timespec="minutes").replace("+00:00", "Z")
        return Prediction(
            STALE, f"its schedule ({model.settings['schedule']}) fired at {when}: the next run rebuilds it"
        )
    return Prediction(STALE, "its table is gone: the next run builds it")
