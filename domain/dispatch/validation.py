"""Checks of the numbers admins configure (integers only: the seed's forms take no decimals)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from domain.shared.errors import ValidationFailed

WEIGHT_RANGE = (1, 100)
PROVIDER_MAX_LOAD_RANGE = (0, 2000)
EMPLOYEE_MAX_LOAD_RANGE = (0, 50)


def check_int(value: object, field: str, low: int, high: int, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(field, f"must be an integer from {low} to {high}", code=code)
    if not low <= value <= high:
        raise ValidationFailed(field, f"must be from {low} to {high}", code=code)
    return value


def check_weight(value: object, field: str = "weight") -> int:
    return check_int(value, field, *WEIGHT_RANGE, code="invalid_weight")


def check_provider_max_load(value: object, field: str = "max_load") -> int:
    return check_int(value, field, *PROVIDER_MAX_LOAD_RANGE, code="invalid_max_load")


def check_employee_max_load(value: object, field: str = "max_load") -> int:
    return check_int(value, field, *EMPLOYEE_MAX_LOAD_RANGE, code="invalid_max_load")


def check_current_load(value: object, field: str = "current_load") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed(field, "must be an integer >= 0", code="invalid_load")
    return value


@dataclasses.dataclass(frozen=True)
class ProviderSetting:
    """One row of a product's provider configuration."""

    provider_org_id: str
    weight: int
    max_load: int


def validate_provider_settings(rows: Sequence[ProviderSetting],
                               allowed_provider_ids: Sequence[str] | None = None) -> list[ProviderSetting]:
    """Errors name the row: ``providers[1].weight``. ``allowed_provider_ids`` are the
    providers linked to the vendor (the vendor itself by default), when known."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"providers[{i}]"
        if not isinstance(row.provider_org_id, str) or not row.provider_org_id:
            raise ValidationFailed(f"{where}.provider_org_id", "is required", code="invalid_provider")
        if row.provider_org_id in seen:
            raise ValidationFailed(f"{where}.provider_org_id", "is listed twice", code="duplicate_provider")
        if allowed_provider_ids is not None and row.provider_org_id not in allowed_provider_ids:
            raise ValidationFailed(f"{where}.provider_org_id", "is not a provider linked to this vendor",
                                   code="provider_not_linked")
        seen.add(row.provider_org_id)
        check_weight(row.weight, f"{where}.weight")
        check_provider_max_load(row.max_load, f"{where}.max_load")
    return list(rows)
