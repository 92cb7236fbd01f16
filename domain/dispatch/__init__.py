"""Dispatch domain: who delivers a project (providers by weight, employees by load)."""
from domain.dispatch.employees import (
    ALL_EMPLOYEES_FULL,
    NO_EMPLOYEE_WITH_ROLE,
    EmployeeCandidate,
    EmployeeDecision,
    EmployeePool,
    choose_employee,
)
from domain.dispatch.providers import (
    ALL_PROVIDERS_FULL,
    NO_PROVIDER_CONFIGURED,
    ProviderCandidate,
    ProviderDecision,
    choose_provider,
)
from domain.dispatch.queue import QueueEntry, queue_order
from domain.dispatch.rng import RandomSource
from domain.dispatch.saturation import Saturation, saturation
from domain.dispatch.validation import (
    ProviderSetting,
    check_employee_max_load,
    check_provider_max_load,
    check_weight,
    validate_provider_settings,
)

__all__ = [
    "ALL_EMPLOYEES_FULL",
    "ALL_PROVIDERS_FULL",
    "NO_EMPLOYEE_WITH_ROLE",
    "NO_PROVIDER_CONFIGURED",
    "EmployeeCandidate",
    "EmployeeDecision",
    "EmployeePool",
    "ProviderCandidate",
    "ProviderDecision",
    "ProviderSetting",
    "QueueEntry",
    "RandomSource",
    "Saturation",
    "check_employee_max_load",
    "check_provider_max_load",
    "check_weight",
    "choose_employee",
    "choose_provider",
    "queue_order",
    "saturation",
    "validate_provider_settings",
]
