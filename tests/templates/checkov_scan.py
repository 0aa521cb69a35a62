"""checkov on the translated templates (what CloudFormation really deploys).

`python -m tests.templates.checkov_scan` prints the findings and exits non-zero on any failed check.
Skips live in the templates, as resource Metadata with a one-line reason each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.templates.sam_offline import ALL_TEMPLATES, REPO, translate
from tests.templates.scenarios import scenarios_for


def checkov_binary() -> str:
    """checkov from its own virtual environment (.venv-checkov), as the Makefile builds it."""
    return os.environ.get("CHECKOV_BIN") or str(REPO / ".venv-checkov" / "bin" / "checkov")


def scenario_templates(template: Path) -> dict[str, dict[str, Any]]:
    """The translated template once per scenario, the scenario's values set as parameter defaults."""
    translated = translate(template)
    parameters = translated.get("Parameters", {})
    variants = {}
    # Only parameters with no default take a wired value (one with a default has its own meaning when empty).
    wired = {name for name, spec in parameters.items() if "Default" not in spec}
    for scenario, values in scenarios_for(template.stem, wired).items():
        variant = json.loads(json.dumps(translated))
        for name, value in values.items():
            variant["Parameters"][name]["Default"] = value
        variants[f"{template.stem}--{scenario}"] = variant
    return variants


def _scan_file(path: Path) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [
            checkov_binary(),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"checkov failed on {path.name} ({completed.returncode}): {completed.stderr[-2000:]}"
        )
    parsed = json.loads(completed.stdout or "[]")
    reports = parsed if isinstance(parsed, list) else [parsed]
    # A file with nothing checkov knows comes back as a bare summary: give it the usual shape.
    return [
        (report if "results" in report else {"results": {}, "summary": report}) | {"scenario": path.stem}
        for report in reports
    ]


def scan(templates: list[Path] = ALL_TEMPLATES) -> list[dict[str, Any]]:
    """Run checkov over every scenario of every translated template; one report per scenario file.

    One checkov process per file: scenarios of a template share their logical IDs, and a single checkov
    run over a folder of them was seen to mix them up (different counts from run to run).
    """
    with tempfile.TemporaryDirectory() as workdir:
        paths = []
        for template in templates:
            for name, variant in scenario_templates(template).items():
                path = Path(workdir) / f"{name}.json"
                path.write_text(json.dumps(variant, indent=1))
                paths.append(path)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return [report for reports in pool.map(_scan_file, paths) for report in reports]


def checked_resource_types() -> set[str]:
    """The CloudFormation resource types checkov has checks for (`checkov --list`, its Entity column)."""
    completed = subprocess.run(
        [checkov_binary(), "--list", "--framework", "cloudformation"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows = (line.split("|") for line in completed.stdout.splitlines())
    return {cells[4].strip() for cells in rows if len(cells) > 4 and cells[4].strip().startswith("AWS::")}


def failed_checks(reports: list[dict[str, Any]]) -> list[str]:
    """One line per failed check: template, resource, check id and name."""
    lines = []
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            lines.append(
                f"{Path(check['file_path']).name} {check['resource']} "
                f"{check['check_id']} {check['check_name']}"
            )
    return sorted(lines)


def main() -> int:
    reports = scan()
    failures = failed_checks(reports)
    passed = sum(report.get("summary", {}).get("passed", 0) for report in reports)
    skipped = sum(report.get("summary", {}).get("skipped", 0) for report in reports)
    for line in failures:
        print(f"FAILED {line}")
    print(f"checkov: {passed} passed, {len(failures)} failed, {skipped} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
