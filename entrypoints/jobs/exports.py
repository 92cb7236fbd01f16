"""Export jobs."""
from __future__ import annotations

import injector

from application.exports import ExportService
from entrypoints.jobs import job


@job("exports.run")
def run_export(container: injector.Injector, export_id: str) -> dict[str, object]:
    done = container.get(ExportService).run(export_id)
    return {"id": done.id, "status": done.status, "rows": done.row_count}
