"""Shared kernel used by every domain module."""
from domain.shared.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from domain.shared.events import DomainEvent
from domain.shared.ids import new_id
from domain.shared.money import Money, to_money

__all__ = [
    "Conflict",
    "DomainError",
    "DomainEvent",
    "Forbidden",
    "Money",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "ValidationFailed",
    "new_id",
    "to_money",
]
