"""Repository ports of the dispatch module and the records they carry.

Loads are counters (``current_load`` on a product's provider row and on an employee's
capacity row) kept equal to the number of holdings that count them: every method that
adds or removes a holding changes the counter in the same transaction. Taking one unit
of capacity is a conditional update (``take``) that fails rather than go above the max
load; sweeps lock a provider's rows in a fixed order first (``lock_*``) and then write
the loads they computed (docs/adr/0003-dispatch-capacity.md).
"""
from __future__ import annotations

import abc
import builtins
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from domain.dispatch import EmployeeCandidate

Kind = Literal["provider", "employee"]
KINDS: tuple[Kind, ...] = ("provider", "employee")


@dataclasses.dataclass(frozen=True)
class ProductProvider:
    product_id: str
    provider_org_id: str
    vendor_org_id: str
    weight: int
    max_load: int
    current_load: int
    active: bool
    updated_at: datetime
    provider_name: str | None = None


@dataclasses.dataclass(frozen=True)
class EmployeeCapacity:
    user_id: str
    org_id: str
    max_load: int
    accepting: bool
    current_load: int
    updated_at: datetime | None  # None: never configured (defaults: 0, accepting)
    name: str | None = None
    roles: tuple[str, ...] = ()
    department_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Holding:
    project_id: str
    kind: Kind
    holder_id: str
    product_id: str
    org_id: str  # the provider organisation
    role: str | None
    at: datetime


@dataclasses.dataclass(frozen=True)
class QueuedProject:
    project_id: str
    kind: Kind
    reason_code: str
    reason: str
    queued_at: datetime
    updated_at: datetime
    order_no: str
    product_id: str
    customer_org_id: str
    vendor_org_id: str | None = None
    provider_org_id: str | None = None
    role: str | None = None
    rule: str | None = None
    department_id: str | None = None
    customer_name: str | None = None
    provider_name: str | None = None


@dataclasses.dataclass(frozen=True)
class QueueFilter:
    """What a caller may see (``unrestricted`` for the platform; else a vendor's provider
    queue and/or a provider's employee queue) and the list's own filters."""

    unrestricted: bool = False
    as_vendor: str | None = None  # provider-queue entries of this vendor's products
    as_provider: str | None = None  # employee-queue entries of this provider
    kind: Kind | None = None
    order_no: str | None = None
    product_id: str | None = None
    customer_org_id: str | None = None
    provider_org_id: str | None = None
    reason_code: str | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    id: str
    project_id: str
    kind: Kind
    chosen: str | None
    reason: str | None
    via: str  # assign | dispatch_now | sweep
    product_id: str
    vendor_org_id: str | None
    provider_org_id: str | None
    explanation: dict[str, Any]
    at: datetime


@dataclasses.dataclass(frozen=True)
class LoadMismatch:
    kind: Kind
    key: str  # "product/provider" or user id
    counter: int
    holdings: int


class ProductVendors(abc.ABC):
    """Who sells a product (products belong to workflow; dispatch only asks)."""

    @abc.abstractmethod
    def vendor_of(self, product_id: str) -> str | None: ...


class ProductProviderRepository(abc.ABC):
    @abc.abstractmethod
    def list_for_product(self, product_id: str, *, active_only: bool = True, lock: bool = False,
                         skip_locked: bool = False) -> list[ProductProvider]:
        """``lock``: FOR UPDATE, in provider order. ``skip_locked``: only the rows this
        transaction could lock without waiting (sweeps never wait for a dispatcher)."""

    @abc.abstractmethod
    def upsert(self, row: ProductProvider) -> None: ...

    @abc.abstractmethod
    def delete(self, product_id: str, provider_org_id: str) -> None: ...

    @abc.abstractmethod
    def take(self, product_id: str, provider_org_id: str, now: datetime) -> bool:
        """One more unit of load if still below the max (conditional update)."""

    @abc.abstractmethod
    def add_load(self, product_id: str, provider_org_id: str, delta: int, now: datetime, *,
                 within_max: bool = False) -> bool:
        """Change a load the caller has locked (sweeps) or counted (releases; ``delta`` < 0).
        ``within_max``: only if the result stays within the max load; False if not applied."""

    @abc.abstractmethod
    def vendor_of_product(self, product_id: str) -> str | None:
        """The vendor recorded with the product's provider rows, if any."""

    @abc.abstractmethod
    def search(self, *, product_id: str | None, vendor_org_id: str | None, provider_org_id: str | None,
               visible_to_org: str | None, offset: int, limit: int) -> tuple[list[ProductProvider], int]:
        """Active rows for saturation (with provider names)."""


class EmployeeCapacityRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, user_id: str) -> EmployeeCapacity | None: ...

    @abc.abstractmethod
    def upsert(self, org_id: str, user_id: str, max_load: int, accepting: bool, now: datetime) -> EmployeeCapacity:
        """Set max load and switch, keeping the current load."""

    @abc.abstractmethod
    def candidates(self, org_id: str, role: str | None = None) -> list[EmployeeCandidate]:
        """Active users of the organisation (with ``role`` if given) and their capacity;
        users never configured count as accepting with a max load of 0."""

    @abc.abstractmethod
    def lock_org(self, org_id: str) -> set[str]:
        """Lock the organisation's capacity rows that no other transaction holds (FOR
        UPDATE SKIP LOCKED, in user id order) and return their user ids: a sweep never
        waits for a dispatcher, so it can never be part of a deadlock."""

    @abc.abstractmethod
    def take(self, user_id: str, now: datetime, *, require_accepting: bool = True) -> bool:
        """One more unit of load if still below the max (and accepting): conditional update."""

    @abc.abstractmethod
    def add_loads(self, deltas: Mapping[str, int], now: datetime, *, within_max: bool = False) -> bool:
        """Change loads the caller has locked (sweeps) or counted (releases), in user id order.
        ``within_max``: only where the result stays within the max load; False unless every
        row was changed."""

    @abc.abstractmethod
    def search(self, org_id: str, *, role: str | None, accepting: bool | None, offset: int,
               limit: int) -> tuple[list[EmployeeCapacity], int]: ...


class HoldingRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, holding: Holding) -> bool:
        """False if the project already holds this holder (nothing written)."""

    @abc.abstractmethod
    def add_many(self, holdings: Sequence[Holding]) -> set[tuple[str, str]]:
        """Insert those not held already; the (project id, holder id) pairs inserted."""

    @abc.abstractmethod
    def for_project(self, project_id: str, *, lock: bool = False) -> list[Holding]: ...

    @abc.abstractmethod
    def delete_for_project(self, project_id: str) -> None: ...

    @abc.abstractmethod
    def move(self, project_id: str, from_user_id: str, to_user_id: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def load_mismatches(self) -> builtins.list[LoadMismatch]:
        """Counters that differ from the holdings they count (should always be empty)."""


class QueueRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, project_id: str, kind: Kind, *, lock: bool = False) -> QueuedProject | None: ...

    @abc.abstractmethod
    def for_project(self, project_id: str) -> builtins.list[QueuedProject]: ...

    @abc.abstractmethod
    def put(self, entry: QueuedProject) -> None:
        """Insert, or update reason and ``updated_at`` keeping ``queued_at``."""

    @abc.abstractmethod
    def delete(self, project_id: str, kind: Kind | None = None) -> None: ...

    @abc.abstractmethod
    def delete_many(self, keys: Iterable[tuple[str, Kind]]) -> None: ...

    @abc.abstractmethod
    def claim(self, kind: Kind, *, scope: str, after: tuple[datetime, str] | None,
              limit: int) -> builtins.list[QueuedProject]:
        """The oldest entries of one scope (a product for the provider queue, a provider
        for the employee queue) after ``after``, locked, skipping those another sweep holds."""

    @abc.abstractmethod
    def scopes(self, kind: Kind) -> builtins.list[str]:
        """Products (provider queue) or providers (employee queue) with queued projects,
        the one with the oldest entry first."""

    @abc.abstractmethod
    def search(self, flt: QueueFilter, offset: int, limit: int) -> tuple[builtins.list[QueuedProject], int]: ...


class DecisionRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, decision: Decision) -> None: ...

    @abc.abstractmethod
    def add_many(self, decisions: Sequence[Decision]) -> None: ...

    @abc.abstractmethod
    def search(self, *, project_id: str | None, kind: Kind | None, visible_to_org: str | None, offset: int,
               limit: int) -> tuple[builtins.list[Decision], int]: ...
