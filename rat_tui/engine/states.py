"""The states of a model, one enum for the engine and every face: what `rat status` shows, what a
build ends as (ModelFinished, model_runs), what the workbench draws. A StrEnum: each state is its
string ("check_failed"), so the JSON and the state database hold exactly what they always held."""

from __future__ import annotations

from enum import StrEnum


class BuildState(StrEnum):
    OK = "ok"
    STALE = "stale"  # the next run builds it
    NEVER_BUILT = "never built"
    FAILED = "failed"
    CHECK_FAILED = "check_failed"  # built, but an error-severity check failed: nothing published
    SKIPPED = "skipped"  # something upstream failed
    ERROR = "error"  # cannot be built (a model that does not parse, a cycle)
    UP_TO_DATE = "up_to_date"  # a build that found nothing to do
    NO_MODEL = "no model"  # a silver/gold table whose model file is gone


FAILING = (BuildState.FAILED, BuildState.CHECK_FAILED, BuildState.ERROR)  # what makes `rat run` exit 1
ATTENTION = (*FAILING, BuildState.SKIPPED)  # what `rat status --check` wakes someone for
