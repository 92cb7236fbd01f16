"""Wallet errors with their stable codes (documented in docs/api.md)."""
from domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class DailyBudgetExceeded(Conflict):
    code = "daily_budget_exceeded"


class DuplicateReference(Conflict):
    """The reference was already used on this wallet for a different request."""

    code = "duplicate_reference"


class HoldNotActive(Conflict):
    code = "hold_not_active"


class HoldExpired(Conflict):
    code = "hold_expired"


class RevokeNotCovered(Conflict):
    """An offline recharge can be revoked only while the wallet still has that much."""

    code = "revoke_not_covered"


class NotRevocable(Conflict):
    code = "not_revocable"


class PaymentMismatch(Conflict):
    """A verified payment notification that does not match its recharge: refused and flagged."""

    code = "payment_mismatch"


class AmountMismatch(PaymentMismatch):
    """A payment notification's amount differs from the recharge: refused and flagged."""

    code = "amount_mismatch"


class TradeMismatch(PaymentMismatch):
    """A payment notification names another gateway trade than the one the recharge is
    bound to (the gateway's payment id, known when the payment was created or credited):
    refused and flagged."""

    code = "trade_mismatch"


class InvalidRechargeStatus(Conflict):
    code = "invalid_recharge_status"


class NotRefundable(Conflict):
    code = "not_refundable"


class CreditLimitBelowUsed(Conflict):
    code = "credit_limit_below_used"


class DepositExceedsDue(Conflict):
    code = "deposit_exceeds_due"


class WithholdingAgreementRequired(Conflict):
    code = "withholding_agreement_required"


class InvalidAgreementStatus(Conflict):
    code = "invalid_agreement_status"


class AgreementExists(Conflict):
    code = "agreement_exists"


class ReclaimExceedsAllocated(Conflict):
    code = "reclaim_exceeds_allocated"


class PayeesNotAllowed(Forbidden):
    code = "payees_not_allowed"


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    what = "wallet"


class NotForExternalWallet(Conflict):
    """Coupons, credit, deposits, budgets and withholding belong to the general wallet."""

    code = "not_for_external_wallet"


class PrincipalNotFound(NotFound):
    code = "principal_not_found"


class HoldNotFound(NotFound):
    code = "hold_not_found"


class RechargeNotFound(NotFound):
    code = "recharge_not_found"


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"


class AgreementNotFound(NotFound):
    code = "agreement_not_found"


class InvalidWalletInput(ValidationFailed):
    pass


__all__ = [
    "AgreementExists", "AgreementNotFound", "AmountMismatch", "CreditLimitBelowUsed", "DailyBudgetExceeded",
    "DepositExceedsDue", "DuplicateReference", "HoldExpired", "HoldNotActive", "HoldNotFound",
    "InsufficientFunds", "InvalidAgreementStatus", "InvalidRechargeStatus", "InvalidWalletInput",
    "NotForExternalWallet", "NotRefundable", "NotRevocable", "PayeesNotAllowed", "PrincipalNotFound",
    "RechargeNotFound",
    "ReclaimExceedsAllocated", "RevokeNotCovered", "WalletNotFound", "WithdrawalNotFound",
    "WithholdingAgreementRequired",
]
