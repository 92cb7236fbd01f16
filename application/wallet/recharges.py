"""Money in and out through payment channels: online and offline recharge, revoke,
payment notifications, reconciliation with the gateway, refunds (withdrawals).

Gateways are called *outside* any database transaction (a slow gateway never holds a
wallet lock); what they answer is then applied in a short locked transaction. A
payment notification credits exactly once: the recharge is re-read under its
wallet's lock and the recharge entry has a unique key (``recharge:<id>``).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal

from injector import inject, singleton

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.paging import Page, PageRequest
from application.shared.settings import Settings
from application.shared.uow import UnitOfWorkFactory, commit_guards
from application.wallet.payments import GatewayError, InvalidNotification, PaymentGateway, PaymentGateways
from application.wallet.services import EntryResult, Ledger, WalletBase
from domain.shared.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from domain.shared.money import to_money
from domain.wallet import errors
from domain.wallet.model import ONLINE_CHANNELS, RECHARGE_CHANNELS, Recharge, Wallet, Withdrawal
from domain.wallet.ports import RechargeRepository, WithdrawalRepository
from domain.wallet.purpose import org_of

log = logging.getLogger("agora.wallet.payments")

RECONCILE_AFTER = timedelta(minutes=10)  # a notification this late is presumed lost: ask the gateway
GIVE_UP_AFTER = timedelta(days=2)  # a trade the gateway still does not know by then never started


class BadNotification(DomainError):
    """A payment notification we refuse (bad signature, unknown trade): HTTP 400, credits nothing."""

    code = "invalid_notification"


class GatewayUnavailable(Conflict):
    """The payment gateway could not be reached; nothing was charged (HTTP 503)."""

    code = "gateway_unavailable"


@dataclasses.dataclass(frozen=True)
class RechargeResult:
    recharge: Recharge
    entry: EntryResult | None = None


@dataclasses.dataclass(frozen=True)
class NotificationResult:
    recharge_id: str
    status: str  # the recharge's status after the notification
    credited: bool  # this notification credited the wallet (False for a repeat)


@dataclasses.dataclass(frozen=True)
class ReconcileReport:
    checked: int = 0
    credited: int = 0
    failed: int = 0
    flagged: int = 0
    withdrawals_settled: int = 0


@singleton  # stateless: one per container, not one per request
class RechargeService(WalletBase):
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, gateways: PaymentGateways,
                 settings: Settings) -> None:
        super().__init__(uow_factory, clock)
        self.gateways = gateways
        self.settings = settings
        self._early_release = self._release_early_allowed(settings)

    def _gateway(self, channel: str, field: str = "channel") -> PaymentGateway:
        try:
            return self.gateways.get(channel)
        except LookupError:
            raise ValidationFailed(field, f"payment channel {channel!r} is not configured",
                                   code="channel_not_configured") from None

    def notify_url(self, channel: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/api/v1/payments/{channel}/notify"

    # -- recharge ---------------------------------------------------------------------------

    def recharge(self, caller: Caller, org_id: str, amount: Decimal, channel: str,
                 note: str | None = None) -> RechargeResult:
        amount = to_money(amount, "amount", positive=True)
        if channel not in RECHARGE_CHANNELS:
            raise ValidationFailed("channel", f"must be one of {', '.join(RECHARGE_CHANNELS)}",
                                   code="invalid_channel")
        if channel == "offline":
            return self._offline(caller, org_id, amount, note)
        return self._online(caller, org_id, amount, channel, note)

    def _offline(self, caller: Caller, org_id: str, amount: Decimal, note: str | None) -> RechargeResult:
        """Finance staff record money received off-line: credited at once."""
        if not caller.is_platform:
            caller.require_org(org_of(org_id), errors.WalletNotFound)
            raise Forbidden("offline recharges are recorded by platform finance", code="permission_denied")
        caller.require("wallet.offline_recharge")

        def command(tx: Ledger) -> RechargeResult:
            wallet = tx.lock(org_id)[org_id]
            recharge, entry = wallet.offline_recharge(amount, note, tx.now, self._actor(caller))
            tx.uow.repo(RechargeRepository).add(recharge)
            tx.write(entry)
            tx.save()
            record(tx.uow, caller, "wallet.offline_recharge", recharge.id, f"offline recharge {amount}: {note}",
                   tx.now, org_id=org_of(org_id))
            line = tx.lines[org_id]
            tx.uow.commit()
            return RechargeResult(recharge, EntryResult(entry, line))

        return self._run(command)

    def _online(self, caller: Caller, org_id: str, amount: Decimal, channel: str,
                note: str | None) -> RechargeResult:
        self._require_own(caller, "wallet.recharge", org_id)
        gateway = self._gateway(channel)
        now = self.clock.now()
        recharge = Recharge.online_intent(org_id, channel, amount, note, now, self._actor(caller))
        # the request's effect (what an Idempotency-Key guards, ADR 0008) is the recharge with
        # its payment URL: the intent before the gateway call and a failed attempt are not
        # (a retry after either must be able to try again)
        with commit_guards(()), self.uow_factory() as uow:
            if not self._may_hold(uow, org_id):
                raise errors.WalletNotFound("no such wallet")
            uow.repo(RechargeRepository).add(recharge)
            record(uow, caller, "wallet.recharge", recharge.id, f"online recharge {amount} via {channel}", now,
                   org_id=org_of(org_id))
            uow.commit()
        try:
            intent = gateway.create_payment(recharge.id, amount, f"Agora wallet recharge {recharge.id}",
                                            self.notify_url(channel))
        except GatewayError as exc:
            log.warning("gateway %s refused recharge %s: %s", channel, recharge.id, exc)
            recharge.fail(f"gateway: {exc}")
            with commit_guards(()):
                self._save_recharge(recharge)
            raise GatewayUnavailable(f"the {channel} gateway is unavailable; nothing was charged") from exc
        recharge.payment_url = intent.payment_url
        recharge.gateway_trade_no = intent.gateway_trade_no
        self._save_recharge(recharge)
        return RechargeResult(recharge)

    def _save_recharge(self, recharge: Recharge) -> None:
        with self.uow_factory() as uow:
            uow.repo(RechargeRepository).save(recharge)
            uow.commit()

    def get_recharge(self, caller: Caller, org_id: str, recharge_id: str) -> Recharge:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            recharge = uow.repo(RechargeRepository).get(recharge_id)
        if recharge is None or recharge.org_id != org_id:
            raise errors.RechargeNotFound("no such recharge")
        return recharge

    def recharges(self, caller: Caller, org_id: str, page: PageRequest, status: str | None) -> Page[Recharge]:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            items, total = uow.repo(RechargeRepository).list(org_id, status, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def revoke(self, caller: Caller, org_id: str, recharge_id: str, note: str | None = None) -> EntryResult:
        """Reverse an offline recharge, once, while the wallet still has that much (else 409)."""
        if not caller.is_platform:
            caller.require_org(org_of(org_id), errors.WalletNotFound)
            raise Forbidden("offline recharges are revoked by platform finance", code="permission_denied")
        caller.require("wallet.offline_recharge")

        def command(tx: Ledger) -> EntryResult:
            wallet = tx.lock(org_id)[org_id]
            repo = tx.uow.repo(RechargeRepository)
            recharge = repo.get(recharge_id)
            if recharge is None or recharge.org_id != org_id:
                raise errors.RechargeNotFound("no such recharge")
            entry = tx.spending(org_id, lambda: wallet.revoke_recharge(recharge, tx.now, self._actor(caller), note))
            if not tx.write(entry):  # pragma: no cover - the recharge's status guards this
                raise errors.NotRevocable("this recharge was already revoked", code="already_revoked")
            repo.save(recharge)
            tx.save()
            record(tx.uow, caller, "wallet.recharge_revoke", recharge.id, f"revoked recharge of {recharge.amount}",
                   tx.now, org_id=org_of(org_id))
            line = tx.lines[org_id]
            tx.uow.commit()
            return EntryResult(entry, line)

        return self._run(command)

    # -- notifications and reconciliation ----------------------------------------------------------

    def handle_notification(self, channel: str, params: Mapping[str, str]) -> NotificationResult:
        """A gateway's notification. Bad signature / unknown trade -> BadNotification (400)
        and nothing credited; an amount or trade that does not match the recharge is flagged and
        refused (AmountMismatch, TradeMismatch)."""
        if channel not in ONLINE_CHANNELS:
            raise NotFound(f"unknown payment channel {channel!r}", code="payment_channel_not_found")
        try:
            gateway = self.gateways.get(channel)
        except LookupError:
            raise NotFound(f"payment channel {channel!r} is not configured",
                           code="payment_channel_not_found") from None
        try:
            note = gateway.verify_notification(params)
        except InvalidNotification as exc:
            log.warning("refused a %s notification: %s", channel, exc)
            raise BadNotification(f"notification refused: {exc}") from None
        with self.uow_factory() as uow:
            recharge = uow.repo(RechargeRepository).get(note.out_trade_no)
        if recharge is None or recharge.channel != channel:
            raise BadNotification(f"unknown trade {note.out_trade_no}")
        if note.status == "failed":
            return self._fail(recharge.id, recharge.org_id, "gateway notified a failed payment",
                              note.gateway_trade_no)
        return self._credit(recharge.id, recharge.org_id, note.amount, note.gateway_trade_no)

    def _fail(self, recharge_id: str, org_id: str, detail: str,
              gateway_trade_no: str | None = None) -> NotificationResult:
        def act(wallet: Wallet, recharge: Recharge, tx: Ledger) -> NotificationResult:
            if wallet.fail_recharge(recharge, gateway_trade_no, detail):
                tx.uow.repo(RechargeRepository).save(recharge)
                tx.uow.commit()
            return NotificationResult(recharge.id, recharge.status, False)

        return self._settle(recharge_id, org_id, act)

    def _credit(self, recharge_id: str, org_id: str, amount: Decimal, gateway_trade_no: str | None
                ) -> NotificationResult:
        def act(wallet: Wallet, recharge: Recharge, tx: Ledger) -> NotificationResult:
            entry = wallet.credit_recharge(recharge, amount, gateway_trade_no, tx.now)
            if entry is None or not tx.write(entry):
                return NotificationResult(recharge.id, "paid", False)
            tx.uow.repo(RechargeRepository).save(recharge)
            tx.save()
            tx.uow.commit()
            return NotificationResult(recharge.id, recharge.status, True)

        return self._settle(recharge_id, org_id, act)

    def _settle(self, recharge_id: str, org_id: str,
                act: Callable[[Wallet, Recharge, Ledger], NotificationResult]) -> NotificationResult:
        """What the gateway said of ``recharge_id``, acted on under its wallet's lock (so a
        credit happens exactly once). A PaymentMismatch keeps the recharge's flag and is
        raised after the commit."""
        flagged: list[DomainError] = []

        def command(tx: Ledger) -> NotificationResult:
            wallet = tx.lock(org_id)[org_id]
            repo = tx.uow.repo(RechargeRepository)
            recharge = repo.get(recharge_id)  # re-read under the wallet's lock
            assert recharge is not None
            try:
                return act(wallet, recharge, tx)
            except errors.PaymentMismatch as exc:
                repo.save(recharge)  # the flag is kept although what the gateway said is refused
                tx.save()
                tx.uow.commit()
                flagged.append(exc)
                return NotificationResult(recharge.id, recharge.status, False)

        result = self._run(command)
        if flagged:
            raise flagged[0]
        return result

    def reconcile(self, older_than: timedelta = RECONCILE_AFTER, limit: int = 200) -> ReconcileReport:
        """Ask the gateway about recharges still pending after ``older_than`` (a lost
        notification never loses money), and retry refunds still pending."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            pending = uow.repo(RechargeRepository).pending_before(now - older_than, limit)
            withdrawals = uow.repo(WithdrawalRepository).pending_before(now - older_than, limit)
        checked = credited = failed = flagged = 0
        for recharge in pending:
            try:
                status = self.gateways.get(recharge.channel).query(recharge.id)
            except (GatewayError, LookupError) as exc:
                log.warning("cannot query recharge %s: %s", recharge.id, exc)
                continue
            checked += 1
            try:
                if status.status == "paid" and status.amount is not None:
                    credited += self._credit(recharge.id, recharge.org_id, status.amount,
                                             status.gateway_trade_no).credited
                elif status.status == "failed":
                    failed += self._fail(recharge.id, recharge.org_id, "gateway query: payment failed",
                                         status.gateway_trade_no).status == "failed"
                elif status.status == "unknown" and recharge.created_at < now - GIVE_UP_AFTER:
                    failed += self._fail(recharge.id, recharge.org_id,
                                         "the gateway never saw this payment").status == "failed"
            except errors.PaymentMismatch:
                flagged += 1
        settled = sum(self._process_withdrawal(w.id) for w in withdrawals)
        return ReconcileReport(checked=checked, credited=credited, failed=failed, flagged=flagged,
                               withdrawals_settled=settled)

    # -- refund / withdrawal -------------------------------------------------------------------------

    def withdraw(self, caller: Caller, org_id: str, amount: Decimal, recharge_id: str | None = None,
                 reason: str | None = None) -> Withdrawal:
        """Cash back through the channel it came in by (owner only). Pending until the
        gateway confirms; a failed refund returns the money."""
        amount = to_money(amount, "amount", positive=True)
        self._require_own(caller, "wallet.withdraw", org_id)
        self._not_acting(caller, "withdraws its money")  # spec: owner only — an agency acting for it is not

        def command(tx: Ledger) -> Withdrawal:
            wallet = tx.lock(org_id)[org_id]
            repo = tx.uow.repo(RechargeRepository)
            recharge = repo.get(recharge_id) if recharge_id else repo.refundable(org_id, amount)
            if recharge is None or recharge.org_id != org_id:
                if recharge_id:
                    raise errors.RechargeNotFound("no such recharge")
                raise errors.NotRefundable(f"no single online recharge has {amount} left to refund; "
                                           "name one with recharge_id")
            withdrawal, entry = tx.spending(org_id, lambda: wallet.request_withdrawal(recharge, amount, tx.now,
                                                                                      self._actor(caller), reason))
            tx.write(entry)
            repo.save(recharge)
            tx.uow.repo(WithdrawalRepository).add(withdrawal)
            tx.save()
            record(tx.uow, caller, "wallet.withdraw", withdrawal.id, f"withdrawal of {amount} via {recharge.channel}",
                   tx.now, org_id=org_of(org_id))
            tx.uow.commit()
            return withdrawal

        withdrawal = self._run(command)
        with commit_guards(()):  # settling it is the gateway's follow-up (the reconcile job's too)
            self._process_withdrawal(withdrawal.id)
        return self.get_withdrawal(caller, org_id, withdrawal.id)

    def _process_withdrawal(self, withdrawal_id: str) -> int:
        """Ask the gateway to refund (idempotent by refund number) and settle what it says."""
        with self.uow_factory() as uow:
            withdrawal = uow.repo(WithdrawalRepository).get(withdrawal_id)
        if withdrawal is None or withdrawal.status != "pending":
            return 0
        try:
            result = self.gateways.get(withdrawal.channel).refund(withdrawal.recharge_id, withdrawal.id,
                                                                  withdrawal.amount, withdrawal.reason or "withdrawal")
        except (GatewayError, LookupError) as exc:
            log.warning("refund %s not sent: %s", withdrawal.id, exc)
            return 0
        if result.status not in ("succeeded", "failed"):
            return 0

        def command(tx: Ledger) -> int:
            wallet = tx.lock(withdrawal.org_id)[withdrawal.org_id]
            wrepo, rrepo = tx.uow.repo(WithdrawalRepository), tx.uow.repo(RechargeRepository)
            live = wrepo.get(withdrawal_id)
            recharge = rrepo.get(withdrawal.recharge_id)
            assert live is not None and recharge is not None
            entry = wallet.settle_withdrawal(live, recharge, result.status == "succeeded", result.detail, tx.now)
            if entry is None or not tx.write(entry):
                return 0
            wrepo.save(live)
            rrepo.save(recharge)
            tx.save()
            tx.uow.commit()
            return 1

        return self._run(command)

    def get_withdrawal(self, caller: Caller, org_id: str, withdrawal_id: str) -> Withdrawal:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            withdrawal = uow.repo(WithdrawalRepository).get(withdrawal_id)
        if withdrawal is None or withdrawal.org_id != org_id:
            raise errors.WithdrawalNotFound("no such withdrawal")
        return withdrawal

    def withdrawals(self, caller: Caller, org_id: str, page: PageRequest,
                    status: str | None = None) -> Page[Withdrawal]:
        with self.uow_factory() as uow:
            self._require_view(uow, caller, org_id)
            items, total = uow.repo(WithdrawalRepository).list(org_id, page.offset, page.per_page, status)
        return Page(items, page.page, page.per_page, total)
