"""The replay state machine's steps: the event's "step" picks one, which gets the event, the Lambda context
and the settings. Plan steps live in planning.py; the Kafka steps in preflight, writing, verification and
offset_translation, imported when first used (a plan step never loads the Kafka client's modules)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import planning
from replay_settings import ReplaySettings

Step = Callable[[dict[str, Any], Any, ReplaySettings], dict[str, Any]]

if TYPE_CHECKING:  # imported lazily at run time; named here so that mypy checks them and their signatures
    import offset_translation
    import preflight
    import verification
    import writing

    _LAZY_STEPS: tuple[Step, ...] = (
        preflight.run_preflight,
        writing.run_write,
        verification.run_verify,
        offset_translation.run_translate,
    )


class UnknownStepError(ValueError):
    """The event names no step, or one this function does not have."""


def _lazy(module_name: str, function_name: str) -> Step:
    def step(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
        function: Step = getattr(importlib.import_module(module_name), function_name)
        return function(event, context, settings)

    step.__name__ = function_name
    return step


STEPS: dict[str, Step] = {
    "scope": planning.run_scope,
    "scan": planning.run_scan,
    "partitions": planning.run_partitions,
    "merge": planning.run_merge,
    "preflight": _lazy("preflight", "run_preflight"),
    "write": _lazy("writing", "run_write"),
    "verify": _lazy("verification", "run_verify"),
    "translate": _lazy("offset_translation", "run_translate"),
}


def run(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Run the step the event names ({"step": <name>, ...}) and return its output."""
    name = event.get("step") if isinstance(event, dict) else None
    if name not in STEPS:
        raise UnknownStepError(f"event field 'step' must be one of {', '.join(STEPS)}; got {name!r}")
    return STEPS[str(name)](event, context, settings)
