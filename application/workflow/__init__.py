"""Workflow module public API: service products, flow/form/message templates, working-day
calendars, delivery projects (start, walk, commands, lists, dashboard), the timeout job
and the reminder handler."""
from application.exports import ExportKinds
from application.shared.outbox import HandlerRegistry
from application.workflow.calendars import CalendarService, CalendarView, OfficialLoad
from application.workflow.catalog import ProductService
from application.workflow.engine import ProjectEngine
from application.workflow.lists import ProjectListService, ProjectsExport
from application.workflow.ports import FileStorage
from application.workflow.projects import Download, ProjectService, WorkflowProjectAdvancer
from application.workflow.reminders import ReminderSender
from application.workflow.templates import TemplateService
from application.workflow.timeouts import TimeoutReport, TimeoutService


def subscribe(registry: HandlerRegistry) -> None:
    """Event handlers of this module, registered by the composition root."""
    registry.subscribe("RemindersTriggered", "workflow.send_reminders", ReminderSender)


def register_exports(kinds: ExportKinds) -> None:
    kinds.register("projects", ProjectsExport)


__all__ = ["CalendarService", "CalendarView", "Download", "FileStorage", "OfficialLoad", "ProductService",
           "ProjectEngine", "ProjectListService", "ProjectService", "ProjectsExport", "ReminderSender",
           "TemplateService", "TimeoutReport", "TimeoutService", "WorkflowProjectAdvancer", "register_exports",
           "subscribe"]
