"""docs/monitoring.md: its generated parts (dashboard pictures, alarm table, unconfirmed choices) are what
`make monitoring-docs` makes of the templates today, and it has the runbook every alarm names."""

from __future__ import annotations

import re

import pytest

from local.monitoring_docs import DOC, current, runbook_anchors

KAFKA_FUNCTION_RUNBOOKS = {
    "function-errors",
    "function-throttles",
    "duration-near-timeout",
    "consumer-lag",
    "records-sent-to-the-destination",
    "dropped-records",
    "destination-backlog",
}


def anchors(markdown: str) -> set[str]:
    """The anchors a page has: its headings as GitHub slugs them (lower case, punctuation but - and _
    dropped, spaces as -), and explicit <a id> / <a name> tags. Fenced code is not markdown."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)
    found = {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{1,6} +(.+)$", prose, flags=re.MULTILINE)
    }
    return found | set(re.findall(r'<a (?:id|name)="([^"]+)"', prose))


def test_the_generated_parts_are_current() -> None:
    written = DOC.read_text()
    assert current(written) == written, "docs/monitoring.md is not current: run make monitoring-docs"


def test_every_runbook_an_alarm_names_is_on_the_page() -> None:
    named = runbook_anchors()
    missing = {anchor: alarms for anchor, alarms in named.items() if anchor not in anchors(DOC.read_text())}
    assert not missing, f"runbooks missing from docs/monitoring.md: {missing}"


def test_the_alarms_runbook_anchors_are_read_from_the_templates() -> None:
    named = runbook_anchors()
    assert set(named) >= KAFKA_FUNCTION_RUNBOOKS
    # The consumer's and the forwarder's lag alarms share one runbook
    assert named["consumer-lag"] == [
        "nested/kafka-function.yaml: RecordsLagAlarm",
        "nested/kafka-function.yaml: TimeLagAlarm",
    ]


def test_a_heading_gives_its_slug_and_code_gives_none() -> None:
    page = '## Records sent to the destination\n```text\n# Dropped records\n```\n<a id="extra"></a>\n'
    assert anchors(page) == {"records-sent-to-the-destination", "extra"}


def test_a_stale_part_is_made_anew_and_a_missing_marker_is_an_error() -> None:
    written = DOC.read_text()
    stale = written.replace("| FunctionErrorsAlarm |", "| FunctionErrorsAlarm (renamed) |", 1)
    assert stale != written
    assert current(stale) == written
    with pytest.raises(ValueError, match="end of generated alarms"):
        current(written.replace("<!-- end of generated alarms -->", ""))
