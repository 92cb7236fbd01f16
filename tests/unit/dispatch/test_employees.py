"""Least-ratio employee choice, on seed 001's own capacity table (§2.2.1.1 roles, §2.2.1.2 loads)."""
from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dispatch import (
    ALL_EMPLOYEES_FULL,
    NO_EMPLOYEE_WITH_ROLE,
    EmployeeCandidate,
    EmployeePool,
    choose_employee,
)
from domain.shared.errors import ValidationFailed

SEED = 20191129

# name, roles (§2.2.1.1 user list), accepting (§2.2.1.2 "正常"/"暂停"), max, current, department
SEED_TABLE = [
    EmployeeCandidate("wangwu1010", frozenset({"高级设计师", "设计师01"}), True, 20, 0, "设计一部"),
    EmployeeCandidate("lisi1010", frozenset({"高级设计师", "设计师"}), True, 50, 3, "设计一部"),
    EmployeeCandidate("zhangsan1010", frozenset({"项目经理"}), True, 30, 0, "设计一部"),
    EmployeeCandidate("wangyuan", frozenset({"经理"}), True, 10, 0, "研发一部"),
    EmployeeCandidate("wusanyi", frozenset({"设计师"}), False, 10, 0, "研发一部"),
    EmployeeCandidate("xufugui", frozenset({"设计师"}), False, 10, 0, "研发一部"),
    EmployeeCandidate("xusanguan", frozenset({"经理"}), False, 10, 0, "研发二部"),
]


def test_designer_goes_to_lisi_the_only_accepting_designer() -> None:
    decision = choose_employee(SEED_TABLE, "设计师", "provider_first", None, random.Random(SEED))
    assert decision.chosen == "lisi1010"
    assert decision.ratio == Fraction(3, 50)
    assert decision.explanation is not None
    statuses = {v.user_id: v.status for v in decision.explanation.verdicts}
    assert statuses == {"wangwu1010": "no_role", "lisi1010": "chosen", "zhangsan1010": "no_role",
                        "wangyuan": "no_role", "wusanyi": "paused", "xufugui": "paused", "xusanguan": "no_role"}
    assert decision.explanation.draw is None  # no tie, no draw


def test_senior_designer_goes_to_wangwu_with_the_smaller_ratio() -> None:
    # 王五 0/20 against 李四 3/50
    decision = choose_employee(SEED_TABLE, "高级设计师", "provider_first", None, random.Random(SEED))
    assert decision.chosen == "wangwu1010"
    assert decision.explanation is not None
    data = decision.explanation.to_dict()
    assert data["best_ratio"] == "0/1"
    assert {c["user_id"]: (c["status"], c["ratio"]) for c in data["candidates"]
            if c["status"] != "no_role"} == {"wangwu1010": ("chosen", "0/20"), "lisi1010": ("eligible", "3/50")}


def all_three_share_a_role() -> list[EmployeeCandidate]:
    """The issue's "3/50 vs 0/20 vs 0/30": 李四, 王五 and 张三 as if all three had one role."""
    return [EmployeeCandidate(e.user_id, frozenset({"设计师"}), True, e.max_load, e.current_load, e.department_id)
            for e in SEED_TABLE[:3]]


def test_a_tie_at_zero_is_broken_at_random_with_a_seeded_source() -> None:
    decision = choose_employee(all_three_share_a_role(), "设计师", "provider_first", None, random.Random(SEED))
    assert decision.explanation is not None
    assert decision.explanation.tied == ("wangwu1010", "zhangsan1010")  # 0/20 and 0/30; 李四's 3/50 loses
    expected_draw = random.Random(SEED).randrange(2)
    assert decision.explanation.draw == expected_draw
    assert decision.chosen == ("wangwu1010", "zhangsan1010")[expected_draw]
    statuses = {v.user_id: v.status for v in decision.explanation.verdicts}
    assert statuses["lisi1010"] == "eligible"
    assert sorted(statuses.values()) == ["chosen", "eligible", "tied"]


def test_ties_go_both_ways_and_the_larger_ratio_never_wins() -> None:
    wins = Counter(choose_employee(all_three_share_a_role(), "设计师", "provider_first", None,
                                   random.Random(seed)).chosen for seed in range(400))
    assert set(wins) == {"wangwu1010", "zhangsan1010"}
    assert min(wins.values()) > 150


def test_ratios_compare_exactly() -> None:
    rows = [("a", {"r"}, True, 3, 1, None), ("b", {"r"}, True, 6, 2, None), ("c", {"r"}, True, 10, 4, None)]
    decision = choose_employee(rows, "r", "provider_first", None, random.Random(SEED))
    assert decision.explanation is not None and decision.explanation.tied == ("a", "b")  # 1/3 == 2/6 < 4/10


def test_reasons_when_nobody_can_take_it() -> None:
    rng = random.Random(SEED)
    none = choose_employee(SEED_TABLE, "工程师", "provider_first", None, rng)
    assert (none.chosen, none.code, none.reason) == (None, NO_EMPLOYEE_WITH_ROLE, "no employee with role 工程师")
    # 许三观 is the only 经理 of 研发二部 and is paused: nobody of the role accepts orders there
    paused = choose_employee(SEED_TABLE, "经理", "department_first", "研发二部", rng)
    assert (paused.code, paused.reason) == (NO_EMPLOYEE_WITH_ROLE, "no employee with role 经理")
    full_table = [e if e.user_id != "lisi1010" else EmployeeCandidate(
        "lisi1010", e.roles, True, 50, 50, e.department_id) for e in SEED_TABLE]
    full = choose_employee(full_table, "设计师", "provider_first", None, rng)
    assert (full.chosen, full.code, full.reason) == (None, ALL_EMPLOYEES_FULL, "all employees of role 设计师 are full")
    zero = choose_employee([("a", {"r"}, True, 0, 0, None)], "r", "provider_first", None, rng)
    assert zero.code == ALL_EMPLOYEES_FULL


def test_department_first_keeps_to_the_claimers_department() -> None:
    rng = random.Random(SEED)
    decision = choose_employee(SEED_TABLE, "经理", "department_first", "研发一部", rng)
    assert decision.chosen == "wangyuan"
    assert decision.explanation is not None
    assert {v.user_id: v.status for v in decision.explanation.verdicts}["xusanguan"] == "other_department"
    rows = [("a", {"r"}, True, 10, 0, "d1"), ("b", {"r"}, True, 10, 5, "d2")]
    assert choose_employee(rows, "r", "department_first", "d2", rng).chosen == "b"
    assert choose_employee(rows, "r", "provider_first", "d2", rng).chosen == "a"  # the department is ignored


def test_validation() -> None:
    with pytest.raises(ValidationFailed) as err:
        EmployeeCandidate("a", frozenset({"r"}), True, 51, 0)
    assert err.value.field == "max_load"
    with pytest.raises(ValidationFailed) as err:
        choose_employee(SEED_TABLE, "设计师", "round_robin", None, random.Random(1))
    assert err.value.field == "rule"


# ---------------------------------------------------------------- the sweep pool
def test_the_pool_never_exceeds_max_load_and_balances_ratios() -> None:
    rows = [("a", {"d"}, True, 10, 0, None), ("b", {"d"}, True, 20, 0, None), ("c", {"d"}, True, 30, 29, None),
            ("p", {"d"}, False, 50, 0, None)]
    pool = EmployeePool(rows, random.Random(SEED))
    taken: Counter[str] = Counter()
    for _ in range(31):
        decision = pool.take("d", "provider_first", None)
        assert decision.chosen is not None
        taken[decision.chosen] += 1
    assert (pool.load("a"), pool.load("b"), pool.load("c"), pool.load("p")) == (10, 20, 30, 0)
    last = pool.take("d", "provider_first", None)
    assert (last.chosen, last.code) == (None, ALL_EMPLOYEES_FULL)
    assert pool.take("x", "provider_first", None).code == NO_EMPLOYEE_WITH_ROLE


def test_the_pool_keeps_loads_across_roles_and_departments() -> None:
    rows = [("a", {"d", "m"}, True, 2, 0, "k1"), ("b", {"d"}, True, 2, 0, "k2")]
    pool = EmployeePool(rows, random.Random(SEED))
    assert pool.take("m", "department_first", "k1").chosen == "a"
    assert pool.take("d", "provider_first", None).chosen == "b"  # a is at 1/2 now
    assert pool.take("d", "department_first", "k1").chosen == "a"
    assert pool.take("d", "department_first", "k1").code == ALL_EMPLOYEES_FULL
    assert pool.take("d", "provider_first", None).chosen == "b"
    assert pool.take("m", "provider_first", None).code == ALL_EMPLOYEES_FULL


def test_pool_ties_are_uniform() -> None:
    wins: Counter[str | None] = Counter()
    for seed in range(3_000):
        pool = EmployeePool([(u, {"d"}, True, 50, 0, None) for u in ("a", "b", "c")], random.Random(seed))
        wins[pool.take("d", "provider_first", None).chosen] += 1
    statistic = sum((n - 1_000) ** 2 / 1_000 for n in wins.values())
    assert set(wins) == {"a", "b", "c"}
    assert statistic < 5.991  # chi-square, 2 degrees of freedom, 5%


EMPLOYEES = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 12), st.booleans(), st.sampled_from(["k1", "k2", None]),
              st.sets(st.sampled_from(["d", "m"]), min_size=1)),
    min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(rows=EMPLOYEES, takes=st.lists(st.tuples(st.sampled_from(["d", "m"]),
                                                 st.sampled_from(["provider_first", "department_first"]),
                                                 st.sampled_from(["k1", "k2", None])), max_size=30),
       seed=st.integers(0, 2**32))
def test_the_pool_agrees_with_choose_employee(rows: list[tuple[int, int, bool, str | None, set[str]]],
                                              takes: list[tuple[str, str, str | None]], seed: int) -> None:
    employees = [EmployeeCandidate(f"u{i}", frozenset(roles), accepting, mx, min(cur, mx), dept)
                 for i, (mx, cur, accepting, dept, roles) in enumerate(rows)]
    pool = EmployeePool(employees, random.Random(seed))
    loads = {e.user_id: e.current_load for e in employees}
    for role, rule, dept in takes:
        current = [EmployeeCandidate(e.user_id, e.roles, e.accepting, e.max_load, loads[e.user_id], e.department_id)
                   for e in employees]
        reference = choose_employee(current, role, rule, dept, random.Random(0))
        got = pool.take(role, rule, dept)
        assert got.code == reference.code
        if reference.chosen is None:
            assert got.chosen is None
            continue
        assert reference.explanation is not None
        assert got.chosen in reference.explanation.tied  # same least ratio; ties may differ
        assert got.ratio == reference.ratio
        assert got.chosen is not None
        loads[got.chosen] += 1
        assert loads[got.chosen] <= next(e.max_load for e in employees if e.user_id == got.chosen)
    assert all(pool.load(u) == n for u, n in loads.items())
