"""A patient's result does not depend on the batch around it (patients are independent): alone, at any position of a
batch of 1,000, in chunks of any size, through the clinical clock and in a trial on any number of workers,
bit for bit; the seed alone fixes its stochastic draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartsim._batch import build_batch
from cartsim.clinical import Care, run_clinical
from cartsim.io import Scenario
from cartsim.model import CAR_T_STATES, CLL_STATES, State
from cartsim._engine import integrate
from cartsim.solver import SolverOptions
from cartsim.trial import Trial, run_trial

T0 = -5.0
DAYS = np.arange(T0, 366.0)
#: A few output states keep the 1,000-patient output small.
OUTPUT = [State.cd8_effector_0, State.cd4_resting_0, State.cll_pos_blood, State.cll_pos_node,
          State.cll_neg_marrow, State.normal_b_cells, State.il6]
N_BATCH = 1000


def strong_responder() -> Scenario:
    """Default patient and product: CLL falls from ~8e11 cells through the small-number regime."""
    return Scenario(name="responder", simulation={"seed": 12345})


def random_scenarios(n: int, rng: np.random.Generator, days: int | None = None) -> list[Scenario]:
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
            simulation={"seed": int(rng.integers(0, 2**40)), **({} if days is None else {"days": days})}))
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
    shuffled = batch.take(order)
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


# ---- through the clinical clock and the trial runner: every endpoint, exactly ---------------------------

CLINICAL_DAYS = 60
RECORD_DAYS = np.array([-10.0, -5.0, 0.0, 7.0, 28.0, 60.0])


def unusual_neighbours() -> dict[str, Scenario]:
    """Patients unlike each other: different starts (so different pre-infusion visits), a failed
    manufacture, no cells, a death before infusion, a very high tumour, a long ibrutinib lead-in."""
    days = CLINICAL_DAYS
    return {
        "death before infusion": Scenario(simulation={"seed": 33, "days": days}),
        "failed manufacture": Scenario(product={"minimum_dose_cells": 1e11, "dose_cells": 1e11},
                                       simulation={"seed": 4, "days": days}),
        "no cells": Scenario(product={"dose_cells": 0}, simulation={"seed": 5, "days": days}),
        "high tumour": Scenario(patient={"tumor": {"blood_cells": 3e11, "marrow_cells": 3e11, "node_cells": 1e12}},
                                simulation={"seed": 6, "days": days}),
        "early start": Scenario(schedule=[{"drug": "ibrutinib", "day": -60.0, "dose": 420.0}],
                                simulation={"seed": 7, "days": days}),
        "responder": Scenario(simulation={"seed": 12345, "days": days}),
    }


def clinical(scenarios: list[Scenario]):
    batch = build_batch(scenarios)
    return batch, run_clinical(batch, Care.of(scenarios), record_days=RECORD_DAYS)


@pytest.fixture(scope="module")
def mixed():
    """The unusual patients among random ones; the whole batch run at once."""
    special = unusual_neighbours()
    scenarios = random_scenarios(8, np.random.default_rng(11), days=CLINICAL_DAYS)
    for k, scenario in enumerate(special.values()):
        scenarios.insert(2 * k + 1, scenario)
    batch, outcome = clinical(scenarios)
    index = {name: scenarios.index(s) for name, s in special.items()}
    # The batch really holds what it claims, else the test is weak.
    assert np.unique(batch.t0).size >= 5 and batch.t0.min() <= -60
    assert outcome.endpoints["died"][index["death before infusion"]]
    assert outcome.endpoints["os_days"][index["death before infusion"]] < 0
    assert batch.products[index["failed manufacture"]].failed
    assert batch.products[index["no cells"]].dose_cells == 0
    assert not outcome.endpoints["solver_failed"].any()
    return scenarios, outcome


def _assert_same_outcome(parts, whole, rows):
    """``parts`` (outcomes of consecutive pieces) equal ``whole`` at ``rows``: every endpoint, every state."""
    for name, values in whole.endpoints.items():
        np.testing.assert_array_equal(np.concatenate([p.endpoints[name] for p in parts]), values[rows],
                                      err_msg=name, strict=True)
    np.testing.assert_array_equal(np.concatenate([p.status for p in parts]), whole.status[rows], strict=True)
    np.testing.assert_array_equal(np.concatenate([p.record.states for p in parts]), whole.record.states[rows],
                                  strict=True)


@pytest.mark.parametrize("size", [1, 3, 7])
def test_clinical_endpoints_are_identical_in_chunks_of_any_size(mixed, size):
    scenarios, whole = mixed
    parts = [clinical(scenarios[a:a + size])[1] for a in range(0, len(scenarios), size)]
    _assert_same_outcome(parts, whole, np.arange(len(scenarios)))


def test_clinical_endpoints_follow_each_patient_to_another_position_and_neighbours(mixed):
    """Reversed, and each unusual patient alone and as the last of a pair with the earliest starter."""
    scenarios, whole = mixed
    rows = np.arange(len(scenarios))[::-1]
    _assert_same_outcome([clinical([scenarios[i] for i in rows])[1]], whole, rows)
    early = next(i for i, s in enumerate(scenarios) if s.schedule and s.schedule[0].drug == "ibrutinib")
    for i in range(len(scenarios)):
        _assert_same_outcome([clinical([scenarios[i]])[1]], whole, [i])
        _assert_same_outcome([clinical([scenarios[early], scenarios[i]])[1]], whole, [early, i])


def test_trial_rows_are_identical_across_chunk_sizes_and_workers(tmp_path):
    trial = Trial.validated({
        "name": "exact", "patients_per_arm": 7, "seed": 3, "follow_up_days": CLINICAL_DAYS,
        "arms": [{"name": "CD28", "product": {"costimulation": "CD28"}},
                 {"name": "none", "product": {"costimulation": "4-1BB"}, "protocol": "none"}]})
    reference = run_trial(trial, tmp_path / "one", chunk_size=7)
    assert reference["vein_to_vein_days"].nunique() > 1  # starts differ, as do pre-infusion visits
    for name, chunk_size, workers in (("ones", 1, 1), ("threes", 3, 2)):
        rows = run_trial(trial, tmp_path / name, chunk_size=chunk_size, workers=workers)
        pd.testing.assert_frame_equal(rows, reference, check_exact=True)


def test_a_patient_takes_part_only_in_its_own_visits():
    """A protocol rule that fires before infusion: at the earliest starter's weekly visits before the
    others have started, they are not seen, treated or graded; each gets its dose at its own first visit."""
    rule = {"when": "day < 0", "give": "corticosteroid", "dose_mg": 100.0}
    scenarios = [Scenario.model_validate({**s.model_dump(), "protocol": [rule]})
                 for s in list(unusual_neighbours().values())[3:]]  # high tumour, early start, responder
    batch, together = clinical(scenarios)
    assert batch.t0[1] < batch.t0[0] - 7 and batch.t0[1] < batch.t0[2] - 7
    assert np.all(together.endpoints["corticosteroid_doses"] == 1)
    for i in range(len(scenarios)):
        _assert_same_outcome([clinical(scenarios[i:i + 1])[1]], together, [i])
