"""The lookup cache and export budget on the real cache backend (the test settings' cache)."""

import time

from mappings import profile_cache
from mappings.lookups import export_budget

USER = {"external_id": "u-1", "first_name": "Ana"}


def test_an_answer_asked_for_before_a_write_is_not_kept_after_that_write_cleared_the_user():
    asked_at = time.time()
    profile_cache.forget(7, ["u-1"])  # a write delivered while the export was on its way

    profile_cache.store(7, "u-1", ["first_name"], USER, 300, asked_at)

    assert profile_cache.read(7, "u-1") is None


def test_an_answer_asked_for_after_the_last_write_is_kept_and_covers_its_fields():
    profile_cache.forget(7, ["u-1"])
    profile_cache.store(7, "u-1", ["first_name", "email"], USER, 300, time.time() + 0.001)

    entry = profile_cache.read(7, "u-1")

    assert entry.user == USER
    assert entry.covers(["first_name"]) and not entry.covers(["dob"])
    assert entry.is_fresh(300) and not entry.is_fresh(0)


def test_the_budget_admits_its_limit_within_any_minute_and_not_one_more():
    now = 1_000_000.0
    admitted = [export_budget.try_spend(3, limit=5, now=now + i) for i in range(7)]

    assert admitted == [True] * 5 + [False] * 2
    assert export_budget.spent(3, now=now + 7) == 5
    # 30 s later the same five are still inside the last minute: still refused
    assert export_budget.try_spend(3, limit=5, now=now + 37) is False
    # past a minute and a slot after them, the budget is whole again
    assert export_budget.try_spend(3, limit=5, now=now + 6 + 60 + 7) is True


def test_each_environment_has_a_budget_of_its_own():
    now = 2_000_000.0
    assert export_budget.try_spend(1, limit=1, now=now) is True
    assert export_budget.try_spend(1, limit=1, now=now) is False
    assert export_budget.try_spend(2, limit=1, now=now) is True
