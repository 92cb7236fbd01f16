"""The composition root: the only place that imports adapters and binds them to ports.

``build_container(settings, *overrides)`` returns one ``injector.Injector``; tests pass
extra ``injector.Module`` instances to swap any binding (a fake SMS sender, a fixed
random source, a sync job queue).
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import injector
from sqlalchemy.engine import Engine

from adapters.notifications.console import ConsoleEmail, ConsoleSms
from adapters.postgres import (
    dispatch_repos,
    export_repos,
    identity_repos,
    shared_repos,
    wallet_overview_repos,
    wallet_repos,
    workflow_repos,
)
from adapters.postgres.uow import SqlUnitOfWorkFactory, make_engine
from adapters.queue.inprocess import InProcessJobQueue
from adapters.security.passwords import Argon2Hasher
from adapters.security.tokens import JwtTokenIssuer
from application import identity, wallet, workflow
from application.dispatch.api import DispatchApi, ProjectAdvancer
from application.dispatch.services import Dispatcher
from application.exports import ExportKinds, ExportStore
from application.identity.ports import TokenIssuer
from application.shared.clock import Clock
from application.shared.jobs import JobQueue
from application.shared.notifications import EmailSender, SmsSender
from application.shared.outbox import HandlerRegistry, OutboxRelay
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory
from application.wallet import WalletService
from application.wallet.payments import PaymentGateways
from application.workflow import FileStorage, WorkflowProjectAdvancer
from domain.dispatch.rng import RandomSource
from domain.identity.ports import PasswordHasher
from entrypoints.metrics import (
    PrometheusOutboxMetrics,
    record_charge_batch,
    record_early_release,
    record_unlocked_charge,
)

log = logging.getLogger("agora")

REPOSITORY_MODULES = [shared_repos, identity_repos, dispatch_repos, workflow_repos, wallet_repos, export_repos,
                      wallet_overview_repos]
SUBSCRIBERS = [identity.subscribe, workflow.subscribe, wallet.subscribe]


def _sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


class CoreModule(injector.Module):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def configure(self, binder: injector.Binder) -> None:
        binder.bind(Settings, to=self.settings)
        binder.bind(DispatchApi, to=Dispatcher)
        binder.bind(ProjectAdvancer, to=WorkflowProjectAdvancer)
        binder.bind(RandomSource, to=injector.InstanceProvider(random.SystemRandom()))

    @injector.singleton
    @injector.provider
    def clock(self) -> Clock:
        return Clock(self.settings.timezone)

    @injector.singleton
    @injector.provider
    def engine(self) -> Engine:
        _sqlite_dir(self.settings.database_url)
        s = self.settings
        if s.database_url.startswith("sqlite"):
            return make_engine(s.database_url)
        return make_engine(s.database_url, pool_pre_ping=s.db_pre_ping, pool_recycle=s.db_pool_recycle,
                           pool_size=s.db_pool_size)

    @injector.singleton
    @injector.provider
    def registry(self) -> HandlerRegistry:
        reg = HandlerRegistry()
        for subscribe in SUBSCRIBERS:
            subscribe(reg)
        return reg

    @injector.singleton
    @injector.provider
    def uow_factory(self, engine: Engine, registry: HandlerRegistry, clock: Clock,
                    inj: injector.Injector) -> UnitOfWorkFactory:
        def deliver_outbox_soon() -> None:
            inj.get(JobQueue).enqueue("outbox.deliver")

        factory = SqlUnitOfWorkFactory(engine, registry, clock, after_outbox=deliver_outbox_soon)
        for module in REPOSITORY_MODULES:
            for port, adapter in module.REPOSITORIES.items():
                factory.bind(port, adapter)
        return factory

    @injector.singleton
    @injector.provider
    def relay(self, uow_factory: UnitOfWorkFactory, registry: HandlerRegistry, inj: injector.Injector,
              clock: Clock) -> OutboxRelay:
        relay = OutboxRelay(uow_factory, registry, inj, clock)
        relay.metrics = PrometheusOutboxMetrics()
        return relay

    @injector.singleton
    @injector.provider
    def wallets(self, uow_factory: UnitOfWorkFactory, clock: Clock, settings: Settings,
                registry: HandlerRegistry) -> WalletService:
        service = WalletService(uow_factory, clock, settings, registry)
        service.on_charge_batch(record_charge_batch)
        service.on_unlocked_charge(record_unlocked_charge)
        service.on_early_release(record_early_release)
        return service

    @injector.singleton
    @injector.provider
    def job_queue(self, inj: injector.Injector) -> JobQueue:
        if self.settings.redis_url:
            from redis import Redis

            from adapters.queue.rq_queue import RqJobQueue

            return RqJobQueue(Redis.from_url(self.settings.redis_url))
        from entrypoints.jobs import run_job

        return InProcessJobQueue(lambda name, kwargs: run_job(inj, name, kwargs), sync=self.settings.jobs_sync)

    @injector.singleton
    @injector.provider
    def sms(self) -> SmsSender:
        if self.settings.sms == "aliyun":
            from adapters.notifications.aliyun_sms import AliyunSms

            return AliyunSms.from_settings(self.settings)
        return ConsoleSms()

    @injector.singleton
    @injector.provider
    def email(self) -> EmailSender:
        if self.settings.email == "smtp":
            from adapters.notifications.smtp import SmtpEmail

            return SmtpEmail.from_settings(self.settings)
        return ConsoleEmail()

    @injector.singleton
    @injector.provider
    def file_storage(self) -> FileStorage:
        from adapters.storage.local import LocalFileStorage

        return LocalFileStorage(self.settings.storage_dir)

    @injector.singleton
    @injector.provider
    def hasher(self) -> PasswordHasher:
        return Argon2Hasher()

    @injector.singleton
    @injector.provider
    def tokens(self) -> TokenIssuer:
        return JwtTokenIssuer(self.settings.secret_key, self.settings.token_ttl_seconds)

    @injector.singleton
    @injector.provider
    def export_kinds(self) -> ExportKinds:
        """Export kinds of every module (api.md "Long work")."""
        from application.identity.exports import AuditLogExport
        from application.wallet.exports import (
            AgencyConsumptionExport,
            AgencyEntriesExport,
            AgencySpendExport,
            WalletEntriesExport,
        )

        kinds = ExportKinds()
        kinds.register("audit_log", AuditLogExport)
        kinds.register("wallet_entries", WalletEntriesExport)
        kinds.register("agency_entries", AgencyEntriesExport)
        kinds.register("agency_spend", AgencySpendExport)
        kinds.register("agency_consumption", AgencyConsumptionExport)
        workflow.register_exports(kinds)
        return kinds

    @injector.singleton
    @injector.provider
    def export_store(self) -> ExportStore:
        from adapters.files.export_store import LocalExportStore

        return LocalExportStore(self.settings.storage_dir)

    @injector.singleton
    @injector.provider
    def payment_gateways(self, engine: Engine, clock: Clock, inj: injector.Injector) -> PaymentGateways:
        """The sandbox channel always (embedded default); Alipay when configured."""
        from adapters.payment.sandbox import SandboxGateway

        gateways: dict[str, Any] = {
            "sandbox": SandboxGateway.from_settings(engine, self.settings, jobs=inj.get(JobQueue), clock=clock)}
        if self.settings.payment == "alipay" or self.settings.alipay_app_id:
            from adapters.payment.alipay import AlipayGateway

            gateways["alipay"] = AlipayGateway.from_settings(self.settings)
        return PaymentGateways(gateways)


def build_container(settings: Settings | None = None, *overrides: injector.Module) -> injector.Injector:
    settings = settings or Settings.from_env()
    return injector.Injector([CoreModule(settings), *overrides], auto_bind=True)


def redis_client(settings: Settings) -> Any:
    """A Redis client for health checks and workers, or None in embedded mode."""
    if not settings.redis_url:
        return None
    from redis import Redis

    return Redis.from_url(settings.redis_url)


def migrate_database(settings: Settings, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (``agora db upgrade``)."""
    from adapters.postgres.migrate import upgrade

    _sqlite_dir(settings.database_url)
    upgrade(settings.database_url, revision)


def start_in_process_scheduler(container: injector.Injector) -> Any:
    """Embedded mode: run the periodic schedule on a thread of this process."""
    from adapters.queue.inprocess import InProcessScheduler
    from entrypoints.jobs import SCHEDULE

    scheduler = InProcessScheduler(container.get(JobQueue), list(SCHEDULE))
    scheduler.start()
    return scheduler
