"""Least-loaded choice of the employee who works a project (``assign_order``).

Among the provider's employees with the node's role, accepting orders and below
their max load, the one with the smallest ``current / max`` ratio wins (compared
exactly as fractions); equal ratios are broken at random (``rng.randrange`` over the
tied employees in user-id order). Rule ``department_first`` first restricts the
candidates to the department of the account manager who claimed the order (a
claimer without a department means the employees without one).

No winner: reason ``no employee with role <r>`` when no employee of the role (in that
department) is accepting orders at all, ``all employees of role <r> are full`` when
some are accepting but none has spare capacity (seed 001 §2.2.1.8: "未找到对应角色的
员工" / "可接单的员工持单量已满").

``EmployeePool`` makes the same choice for a whole queue sweep in O(log n) per
project (heaps keyed by ratio with a random tie key drawn when an entry is pushed,
so ties are still broken uniformly at random).
"""
from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, Literal

from domain.dispatch.rng import RandomSource
from domain.dispatch.validation import check_current_load, check_employee_max_load
from domain.shared.errors import ValidationFailed

Rule = Literal["provider_first", "department_first"]
RULES = ("provider_first", "department_first")
NO_EMPLOYEE_WITH_ROLE = "no_employee_with_role"
ALL_EMPLOYEES_FULL = "all_employees_full"


@dataclasses.dataclass(frozen=True)
class EmployeeCandidate:
    user_id: str
    roles: frozenset[str]
    accepting: bool
    max_load: int
    current_load: int
    department_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))
        check_employee_max_load(self.max_load)
        check_current_load(self.current_load)

    @property
    def has_capacity(self) -> bool:
        return self.current_load < self.max_load

    @property
    def ratio(self) -> Fraction | None:
        return Fraction(self.current_load, self.max_load) if self.max_load else None


EmployeeRow = EmployeeCandidate | tuple[str, Iterable[str], bool, int, int, str | None]


def _candidate(row: EmployeeRow) -> EmployeeCandidate:
    if isinstance(row, EmployeeCandidate):
        return row
    user_id, roles, accepting, max_load, current_load, department_id = row
    return EmployeeCandidate(user_id, frozenset(roles), accepting, max_load, current_load, department_id)


def _reason(code: str, role: str) -> str:
    if code == NO_EMPLOYEE_WITH_ROLE:
        return f"no employee with role {role}"
    return f"all employees of role {role} are full"


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValidationFailed("rule", "must be provider_first or department_first", code="invalid_rule")


@dataclasses.dataclass(frozen=True)
class EmployeeVerdict:
    user_id: str
    status: str  # chosen | tied | eligible | full | paused | no_role | other_department
    current_load: int
    max_load: int
    ratio: str | None  # "3/50"


@dataclasses.dataclass(frozen=True)
class EmployeeExplanation:
    role: str
    rule: str
    department_id: str | None
    verdicts: tuple[EmployeeVerdict, ...]
    best_ratio: str | None
    tied: tuple[str, ...]
    draw: int | None  # index into ``tied`` when there was a tie

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "employee", "role": self.role, "rule": self.rule, "department_id": self.department_id,
                "candidates": [dataclasses.asdict(v) for v in self.verdicts], "best_ratio": self.best_ratio,
                "tied": list(self.tied), "draw": self.draw}


@dataclasses.dataclass(frozen=True)
class EmployeeDecision:
    chosen: str | None
    code: str | None  # None when chosen; else no_employee_with_role | all_employees_full
    reason: str | None
    explanation: EmployeeExplanation | None = None
    ratio: Fraction | None = None  # the winner's ratio before the assignment


def _fmt(ratio: Fraction | None, c: EmployeeCandidate) -> str | None:
    return f"{c.current_load}/{c.max_load}" if ratio is not None else None


def choose_employee(employees: Iterable[EmployeeRow], role: str, rule: str, department_id: str | None,
                    rng: RandomSource) -> EmployeeDecision:
    """Smallest current/max ratio among accepting employees of ``role`` with spare capacity."""
    _check_rule(rule)
    rows = sorted((_candidate(e) for e in employees), key=lambda c: c.user_id)
    statuses: dict[str, str] = {}
    eligible: list[EmployeeCandidate] = []
    any_accepting = False
    for c in rows:
        if role not in c.roles:
            statuses[c.user_id] = "no_role"
        elif rule == "department_first" and c.department_id != department_id:
            statuses[c.user_id] = "other_department"
        elif not c.accepting:
            statuses[c.user_id] = "paused"
        elif not c.has_capacity:
            any_accepting = True
            statuses[c.user_id] = "full"
        else:
            any_accepting = True
            statuses[c.user_id] = "eligible"
            eligible.append(c)

    def explanation(best: Fraction | None, tied: tuple[str, ...], draw: int | None) -> EmployeeExplanation:
        verdicts = tuple(EmployeeVerdict(c.user_id, statuses[c.user_id], c.current_load, c.max_load,
                                         _fmt(c.ratio, c)) for c in rows)
        best_s = f"{best.numerator}/{best.denominator}" if best is not None else None
        return EmployeeExplanation(role, rule, department_id, verdicts, best_s, tied, draw)

    if not eligible:
        code = ALL_EMPLOYEES_FULL if any_accepting else NO_EMPLOYEE_WITH_ROLE
        return EmployeeDecision(None, code, _reason(code, role), explanation(None, (), None))
    best = min(Fraction(c.current_load, c.max_load) for c in eligible)
    tied = tuple(c.user_id for c in eligible if Fraction(c.current_load, c.max_load) == best)
    draw: int | None = None
    if len(tied) == 1:
        chosen = tied[0]
    else:
        draw = rng.randrange(len(tied))
        chosen = tied[draw]
    for user_id in tied:
        statuses[user_id] = "tied"
    statuses[chosen] = "chosen"
    return EmployeeDecision(chosen, None, None, explanation(best, tied, draw), best)


class EmployeePool:
    """The employees of one provider during a queue sweep: ``take`` chooses like
    ``choose_employee`` and counts the assignment, so a sweep of Q projects over E
    employees costs O((Q + E) log E) instead of Q x E.

    Ties: every heap entry carries a key drawn from ``rng.random()`` when it is
    pushed; among entries of equal ratio the smallest key wins, which is uniform at
    random because the entries of the lowest ratio level were never compared before
    that level became the lowest. The explanation is short (rule, winner, ratio):
    listing every employee for each of 100,000 projects would be the slow part.
    """

    def __init__(self, employees: Iterable[EmployeeRow], rng: RandomSource) -> None:
        self._rng = rng
        self._by_id: dict[str, EmployeeCandidate] = {}
        for e in employees:
            c = _candidate(e)
            self._by_id[c.user_id] = c
        self._load = {uid: c.current_load for uid, c in self._by_id.items()}
        self._version = dict.fromkeys(self._by_id, 0)
        self._heaps: dict[tuple[str, bool, str | None], list[tuple[Fraction, float, int, str]]] = {}
        self._accepting: dict[tuple[str, bool, str | None], bool] = {}
        self._member_of: dict[str, list[tuple[str, bool, str | None]]] = {uid: [] for uid in self._by_id}

    def load(self, user_id: str) -> int:
        return self._load[user_id]

    def _key(self, role: str, rule: str, department_id: str | None) -> tuple[str, bool, str | None]:
        by_department = rule == "department_first"
        return (role, by_department, department_id if by_department else None)

    def _push(self, key: tuple[str, bool, str | None], uid: str) -> None:
        c = self._by_id[uid]
        load = self._load[uid]
        if load < c.max_load:
            heapq.heappush(self._heaps[key], (Fraction(load, c.max_load), self._rng.random(),
                                              self._version[uid], uid))

    def _heap(self, key: tuple[str, bool, str | None]) -> list[tuple[Fraction, float, int, str]]:
        if key not in self._heaps:
            role, by_department, department_id = key
            self._heaps[key] = []
            accepting = False
            for uid in sorted(self._by_id):
                c = self._by_id[uid]
                if role not in c.roles or (by_department and c.department_id != department_id) or not c.accepting:
                    continue
                accepting = True
                self._member_of[uid].append(key)
                self._push(key, uid)
            self._accepting[key] = accepting
        return self._heaps[key]

    def take(self, role: str, rule: str, department_id: str | None) -> EmployeeDecision:
        _check_rule(rule)
        key = self._key(role, rule, department_id)
        heap = self._heap(key)
        while heap:
            ratio, _tie, version, uid = heapq.heappop(heap)
            if version != self._version[uid]:
                continue  # stale: the load changed since this entry was pushed
            self._load[uid] += 1
            self._version[uid] += 1
            for member_key in self._member_of[uid]:
                self._push(member_key, uid)
            return EmployeeDecision(uid, None, None, None, ratio)
        code = ALL_EMPLOYEES_FULL if self._accepting[key] else NO_EMPLOYEE_WITH_ROLE
        return EmployeeDecision(None, code, _reason(code, role))
