"""The fault plan: counts, fractions, method/path filters, validation."""

from __future__ import annotations

import pytest

from app.sandbox.faults import Fault, FaultError, Faults


def test_count_and_filters() -> None:
    faults = Faults()
    faults.add(Fault("503", count=2, method="POST", path="/comment"))
    assert faults.take_api("GET", "/rest/api/2/issue/DEMO-1/comment") is None
    assert faults.take_api("POST", "/rest/api/2/issue/DEMO-1/comment") is not None
    assert faults.take_api("POST", "/rest/api/2/issue/DEMO-1/comment") is not None
    assert faults.take_api("POST", "/rest/api/2/issue/DEMO-1/comment") is None
    assert faults.planned() == []


def test_a_fraction_of_requests() -> None:
    faults = Faults(seed=7)
    faults.add(Fault("429", count=None, fraction=0.3, retry_after=1))
    hits = sum(faults.take_api("GET", "/rest/api/2/myself") is not None for _ in range(1000))
    assert 230 < hits < 370


def test_a_fault_for_one_account_spares_the_others() -> None:
    faults = Faults()
    faults.add(Fault("404", count=None, method="PUT", path="/rest/api/2/issue/DEMO-1", account="sandbox-bot"))
    assert faults.take_api("PUT", "/rest/api/2/issue/DEMO-1", "sandbox-reporter") is None  # a person labels it
    assert faults.take_api("PUT", "/rest/api/2/issue/DEMO-1", "sandbox-bot") is not None


def test_faults_with_fractions_add_up() -> None:
    # 30 % 429 and, of the rest, one in seven 503: a request spared by the first may still meet the second.
    faults = Faults(seed=7)
    faults.add(Fault("429", count=None, fraction=0.3))
    faults.add(Fault("503", count=None, fraction=1 / 7))
    kinds = [getattr(faults.take_api("GET", "/rest/api/2/myself"), "kind", None) for _ in range(2000)]
    assert 500 < kinds.count("429") < 700 and 140 < kinds.count("503") < 260


@pytest.mark.parametrize(
    "data",
    [{"kind": "boom"}, {"kind": "503", "count": 0}, {"kind": "503", "fraction": 2}, {"kind": "503", "x": 1}, []],
)
def test_bad_fault_descriptions_are_refused(data: object) -> None:
    with pytest.raises(FaultError):
        Faults().add_json(data)
