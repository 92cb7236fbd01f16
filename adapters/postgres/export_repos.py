"""Export job rows."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from adapters.postgres import tables as t
from application.exports.services import ExportJob, ExportRepository


class SqlExports(ExportRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _row(r: Any) -> ExportJob:
        return ExportJob(**r._mapping)

    def add(self, job: ExportJob) -> None:
        self.conn.execute(insert(t.export_jobs).values(**job.__dict__))

    def get(self, job_id: str) -> ExportJob | None:
        r = self.conn.execute(select(t.export_jobs).where(t.export_jobs.c.id == job_id)).first()
        return self._row(r) if r else None

    def save(self, job: ExportJob) -> None:
        values = dict(job.__dict__)
        values.pop("id")
        self.conn.execute(update(t.export_jobs).where(t.export_jobs.c.id == job.id).values(**values))

    def list(self, requested_by: str, offset: int, limit: int) -> tuple[list[ExportJob], int]:
        c = t.export_jobs.c
        total = self.conn.execute(select(func.count()).select_from(t.export_jobs)
                                  .where(c.requested_by == requested_by)).scalar_one()
        rows = self.conn.execute(select(t.export_jobs).where(c.requested_by == requested_by)
                                 .order_by(c.created_at.desc(), c.id.desc()).offset(offset).limit(limit))
        return [self._row(r) for r in rows], total


REPOSITORIES: dict[type, type] = {ExportRepository: SqlExports}
