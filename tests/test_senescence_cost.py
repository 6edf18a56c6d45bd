"""A senescent product costs 4-1BB CAR-T their responses and leaves CD28 CAR-T unimpaired (Kay/Kenderian ASH
2022: a senescence signature of 4-1BB products goes with non-response; CD28 cells are not impaired)."""

import numpy as np
import pytest

from cartsim.calibration._cohorts import Cohort, simulate_cohort
from cartsim.clinical import CR, CRI

SHARES = (0.05, 0.4)


@pytest.fixture(scope="module")
def complete_response():
    arms = tuple({"name": f"{costimulation} {share}",
                  "product": {"preset": "tisa-cel", "dose_cells": 1.6e8, "costimulation": costimulation,
                              "senescent_fraction": share, "manufacturing": False}}
                 for costimulation in ("4-1BB", "CD28") for share in SHARES)
    frame = simulate_cohort(Cohort("senescent products", arms, 80, 120, 2022)).frame
    return {arm: float(np.mean(rows["best_response"].isin((CR, CRI)))) for arm, rows in frame.groupby("arm")}


def test_senescent_4_1bb_products_respond_less(complete_response):
    fresh, senescent = (complete_response[f"4-1BB {share}"] for share in SHARES)
    assert fresh - senescent > 0.15, (fresh, senescent)


def test_senescent_cd28_products_lose_little(complete_response):
    """CD28 products lose only what the smaller non-senescent dose costs: less than half of the 4-1BB loss."""
    cd28 = complete_response["CD28 0.05"] - complete_response["CD28 0.4"]
    bb = complete_response["4-1BB 0.05"] - complete_response["4-1BB 0.4"]
    assert cd28 < 0.5 * bb, (cd28, bb)
    assert complete_response["CD28 0.4"] > complete_response["4-1BB 0.4"]
