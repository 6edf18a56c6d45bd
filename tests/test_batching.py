"""A patient's result does not depend on the batch around it (DESIGN.md 3): alone, at any position of a
batch of 1,000, in chunks of any size; the seed alone fixes its stochastic draws."""

from __future__ import annotations

import numpy as np
import pytest

from cartsim._batch import build_batch
from cartsim.io import Scenario
from cartsim.model import CAR_T_STATES, CLL_STATES, State
from cartsim.solver import SolverOptions, integrate

T0 = -5.0
DAYS = np.arange(T0, 366.0)
#: A few output states keep the 1,000-patient output small.
OUTPUT = [State.cd8_effector_0, State.cd4_resting_0, State.cll_pos_blood, State.cll_pos_node,
          State.cll_neg_marrow, State.normal_b_cells, State.il6]
N_BATCH = 1000


def strong_responder() -> Scenario:
    """Default patient and product: CLL falls from ~8e11 cells through the small-number regime."""
    return Scenario(name="responder", simulation={"seed": 12345})


def random_scenarios(n: int, rng: np.random.Generator) -> list[Scenario]:
    """Random patients, each starting at its own apheresis day (before the lymphodepletion on day -5)."""
    out = []
    for i in range(n):
        schedule = []
        if rng.random() < 0.3:
            schedule.append({"drug": str(rng.choice(["tocilizumab", "corticosteroid", "anakinra"])),
                             "day": float(rng.integers(0, 20)), "dose": float(rng.uniform(10, 800))})
        burden = 10 ** rng.uniform(6, 12)
        blood, marrow = rng.uniform(0.2, 0.4, size=2)
        out.append(Scenario(
            patient={"tumor": {"blood_cells": blood * burden, "marrow_cells": marrow * burden,
                               "node_cells": (1 - blood - marrow) * burden,
                               "antigen_negative_fraction": float(rng.choice([0.0, 0.01]))},
                     "normal_b_cells": 10 ** rng.uniform(8, 10.5), "tcell_fitness": rng.uniform(0.2, 2.5),
                     "cytokine_propensity": rng.uniform(0.2, 3.0)},
            product={"dose_cells": 10 ** rng.uniform(6.5, 9.5), "costimulation": str(rng.choice(["4-1BB", "CD28"])),
                     "target": str(rng.choice(["CD19", "ROR1"]))},
            schedule=schedule,
            simulation={"seed": int(rng.integers(0, 2**40))}))
    return out


def run(batch, seeds=None, stochastic=True, rows=None, days=DAYS, output=OUTPUT):
    rows = slice(None) if rows is None else rows
    seeds = batch.seeds if seeds is None else seeds
    return integrate(batch.y0[rows], batch.params[rows], days,
                     doses=type(batch.doses)(batch.doses.times[rows], batch.doses.states[rows],
                                             batch.doses.amounts[rows], batch.doses.counts[rows]),
                     seeds=np.asarray(seeds)[rows], t0=batch.t0[rows], options=SolverOptions(stochastic=stochastic),
                     state_indices=output)


@pytest.fixture(scope="module")
def big_batch():
    rng = np.random.default_rng(20240607)
    scenarios = random_scenarios(N_BATCH, rng)
    position = int(rng.integers(0, N_BATCH))
    scenarios[position] = strong_responder()
    batch = build_batch(scenarios)
    assert np.all(batch.t0 < T0) and np.unique(batch.t0).size > 1  # starts differ within the batch
    return batch, position, run(batch)


def test_patient_alone_equals_patient_inside_a_batch_of_1000(big_batch):
    batch, position, solution = big_batch
    alone = run(batch, rows=slice(position, position + 1))
    assert solution.successful.all()
    assert np.array_equal(alone.values[0], solution.values[position])
    assert alone.result[0] == solution.result[position]
    assert alone.steps[0] == solution.steps[position]
    # The patient really went through the stochastic regime (otherwise the test is weak).
    cll = solution.values[position][:, [OUTPUT.index(State.cll_pos_blood), OUTPUT.index(State.cll_pos_node)]]
    assert cll.sum(axis=1).min() < SolverOptions().threshold


def test_batch_split_into_chunks_gives_identical_results(big_batch):
    batch, _, solution = big_batch
    edges = [0, 1, 14, 263, 600, 601, N_BATCH]  # chunks of 1, 13, 249, 337, 1 and 399 patients
    pieces = [run(batch, rows=slice(a, b)) for a, b in zip(edges[:-1], edges[1:])]
    assert np.array_equal(np.concatenate([p.values for p in pieces]), solution.values)
    assert np.array_equal(np.concatenate([p.result for p in pieces]), solution.result)
    assert np.array_equal(np.concatenate([p.steps for p in pieces]), solution.steps)


def test_every_patient_of_a_batch_is_independent_of_its_neighbours():
    """Shuffle a small batch: each patient's trajectory follows it to its new position."""
    rng = np.random.default_rng(7)
    scenarios = random_scenarios(40, rng) + [strong_responder()]
    batch = build_batch(scenarios)
    days = np.arange(T0, 200.0)
    first = run(batch, days=days)
    order = rng.permutation(len(scenarios))
    shuffled = type(batch)(batch.y0[order], batch.params[order],
                           type(batch.doses)(batch.doses.times[order], batch.doses.states[order],
                                             batch.doses.amounts[order], batch.doses.counts[order]),
                           batch.seeds[order], batch.t0[order],
                           tuple(np.array(batch.products, dtype=object)[order]))
    second = run(shuffled, days=days)
    assert np.array_equal(second.values, first.values[order])
    assert np.array_equal(second.result, first.result[order])


def test_same_seed_same_result_different_seed_different_stochastic_trajectory():
    batch = build_batch([strong_responder()] * 4)
    days = np.arange(T0, 731.0)
    everything = list(CAR_T_STATES) + list(CLL_STATES)
    solution = run(batch, seeds=np.array([1, 1, 2, 3], dtype=np.uint64), days=days, output=everything)
    v = solution.values
    assert solution.successful.all()
    assert np.array_equal(v[0], v[1])
    assert not np.array_equal(v[0], v[2])
    assert not np.array_equal(v[0], v[3])
    assert not np.array_equal(v[2], v[3])
    # While the antigen-positive clone is large its trajectories agree to within sampling noise of
    # the small populations: the difference is the stochastic layer's, not a different model.
    positive = [everything.index(State.cll_pos_blood), everything.index(State.cll_pos_node)]
    np.testing.assert_allclose(v[0][:10, positive], v[2][:10, positive], rtol=1e-6)


def test_deterministic_mode_ignores_the_seed():
    batch = build_batch([strong_responder()] * 3)
    days = np.arange(T0, 366.0)
    solution = run(batch, seeds=np.array([1, 2, 99], dtype=np.uint64), stochastic=False, days=days,
                   output=list(CLL_STATES))
    assert np.array_equal(solution.values[0], solution.values[1])
    assert np.array_equal(solution.values[0], solution.values[2])


def test_build_batch_result_does_not_depend_on_other_patients_schedules():
    """Each patient starts at its own first dose; a patient's own
    trajectory (from its own first dose on) must not change because a neighbour starts earlier."""
    patient = Scenario(simulation={"days": 60, "seed": 3})
    early_neighbour = Scenario(schedule=[{"drug": "ibrutinib", "day": -30.0, "dose": 420.0}])
    alone = build_batch([patient])
    together = build_batch([patient, early_neighbour])
    days = np.arange(-5.0, 61.0)
    a = integrate(alone.y0, alone.params, days, doses=alone.doses, seeds=alone.seeds, t0=alone.t0,
                  options=SolverOptions(stochastic=False), state_indices=list(CLL_STATES))
    b = integrate(together.y0, together.params, days, doses=together.doses, seeds=together.seeds,
                  t0=together.t0, options=SolverOptions(stochastic=False), state_indices=list(CLL_STATES))
    assert np.array_equal(b.values[0], a.values[0])
