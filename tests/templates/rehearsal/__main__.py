"""`make rehearse`: one line per row, then `rehearsed N/10`; the exit status is 0 only for 10/10."""

from __future__ import annotations

import logging
import sys

from tests.templates.rehearsal import rehearsal, rows


def main() -> int:
    """Run every row and print the table."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics and feature-toggle notices
    with rehearsal() as session:
        results = []
        for option, cluster_mode in rows():
            row = session.row(option, cluster_mode)
            print(row.line(), flush=True)
            results.append(row)
    passed = sum(row.ok for row in results)
    print(f"rehearsed {passed}/{len(results)}")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
