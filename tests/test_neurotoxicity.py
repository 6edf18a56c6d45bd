"""ICANS as published: tocilizumab treats CRS but does not prevent neurotoxicity.

Locke 2017 (ZUMA-1 safety cohort 3) gave tocilizumab prophylactically on day 2: severe CRS became rarer while
neurological events did not (Lee 2019 BBMT and Neelapu 2018 Nat Rev Clin Oncol recommend steroids, not
tocilizumab, for ICANS without CRS). The model must show the same in the same virtual patients.
"""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.calibration._cohorts import Cohort, simulate_cohort

_ARMS = ({"name": "tocilizumab for severe CRS", "product": {"preset": "liso-cel"},
          "protocol": "tocilizumab_for_severe_crs"},
         {"name": "prophylactic tocilizumab", "product": {"preset": "liso-cel"},
          "protocol": "prophylactic_tocilizumab"})


@pytest.fixture(scope="module")
def arms():
    result = simulate_cohort(Cohort("tocilizumab prophylaxis in the same CLL patients", _ARMS, 200, 60, 17))
    frame = result.frame
    return {name: frame[frame["arm"] == name] for name in frame["arm"].unique()}


def test_prophylactic_tocilizumab_lowers_crs(arms):
    later, early = arms["tocilizumab for severe CRS"], arms["prophylactic tocilizumab"]
    assert (early["crs_max_grade"] >= 1).mean() < 0.5 * (later["crs_max_grade"] >= 1).mean()


@pytest.mark.xfail(strict=True, reason="a known miss of the model: the blood-brain barrier opens with an endothelial "
                   "activation that IL-6 signalling drives, so tocilizumab on day 0 prevents ICANS (13 events to 0 "
                   "in these patients); the barrier needs a route tocilizumab does not block (README, validate)")
def test_prophylactic_tocilizumab_does_not_prevent_icans(arms):
    later, early = arms["tocilizumab for severe CRS"], arms["prophylactic tocilizumab"]
    without = int((later["icans_max_grade"] >= 1).sum())
    assert without >= 5, "the cohort must have neurological events to compare"
    # Not prevented: at most a third fewer events with the antibody on board from the start.
    assert (early["icans_max_grade"] >= 1).sum() >= np.ceil(2 / 3 * without)
