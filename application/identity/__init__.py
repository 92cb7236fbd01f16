"""Identity module public API: organisations, users, departments, roles, login, API keys."""
from application.identity.handlers import SmsCodeSender
from application.identity.ports import TokenClaims, TokenIssuer
from application.identity.services import (
    ChallengeRequired,
    CreatedUser,
    IdentityService,
    IssuedKey,
    TokenResult,
)
from application.shared.outbox import HandlerRegistry


def subscribe(registry: HandlerRegistry) -> None:
    """Event handlers of this module, registered by the composition root."""
    registry.subscribe("SmsCodeRequested", "identity.send_sms_code", SmsCodeSender)
    registry.redact_after_delivery("SmsCodeRequested", ["code"])


__all__ = ["ChallengeRequired", "CreatedUser", "IdentityService", "IssuedKey", "SmsCodeSender", "TokenClaims",
           "TokenIssuer", "TokenResult", "subscribe"]
