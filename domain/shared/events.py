"""Domain events: facts in the past tense, plain data."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base class. Subclasses are frozen dataclasses of plain values.

    ``integration = True`` marks events that leave the transaction: they are written
    to the outbox in the same commit and delivered to handlers afterwards.
    """

    integration: ClassVar[bool] = True

    @classmethod
    def event_name(cls) -> str:
        return cls.__name__

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, (tuple, frozenset, set)):
                value = list(value)
            out[f.name] = value
        return out
