"""The project's SQL checks as a GX expectation that asks the database once per check.

GX's UnexpectedRowsExpectation computes two metrics over the same query: its rows (up to 200)
and COUNT(*) over it, so a passing check (no rows) runs its whole query twice. The queries
written by project.sql() return every unexpected row with the total beside it
(project.counted_query: count(*) over ()), so the rows alone give both: the same outcome and result, one query.

Importing this module registers the expectation type (expect_no_unexpected_rows) with GX; the
suites in expectations/ name it, so the GX context is opened after the import (validate.py).
"""

from __future__ import annotations

from typing import ClassVar

from great_expectations.expectations import UnexpectedRowsExpectation

from parkdw.quality.project import TOTAL_COLUMN


class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
    """An SQL check: passes when its query (project.counted_query) returns no rows."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        rows = metrics["unexpected_rows_query.table"]
        total = rows[0][TOTAL_COLUMN] if rows else 0
        rows = [{k: v for k, v in row.items() if k != TOTAL_COLUMN} for row in rows]
        return super()._validate({"unexpected_rows_query.table": rows, "unexpected_rows_query.row_count": total},
                                 runtime_configuration, execution_engine)
