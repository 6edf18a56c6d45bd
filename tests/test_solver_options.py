"""The engine's inputs: option validation, shape/time checks, dose timing, per-patient results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import cartsim
from cartsim._batch import build_batch
from cartsim._engine import integrate
from cartsim.io import Scenario
from cartsim.model import N_STATES, Param, State
from cartsim.solver import Doses, Result, SolverOptions


def quiet_scenario() -> Scenario:
    """No tumour, no CAR-T, no lymphodepletion: a patient near steady state."""
    return Scenario(patient={"tumor": {"blood_cells": 0.0, "marrow_cells": 0.0, "node_cells": 0.0}},
                    product={"dose_cells": 0.0}, lymphodepletion={"regimen": "none"})


@pytest.fixture(scope="module")
def quiet():
    return build_batch([quiet_scenario()])


# ---- SolverOptions ------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [
    ("rtol", 0.0), ("rtol", 1.0), ("rtol", -1e-6), ("rtol", math.nan), ("rtol", math.inf),
    ("atol_scale", 0.0), ("atol_scale", -1.0), ("atol_scale", math.nan),
    ("threshold", 0.5), ("threshold", -10.0), ("threshold", math.nan),
    ("sync_fraction", -0.1), ("sync_fraction", math.nan),
    ("sync_min_days", 0.0), ("sync_min_days", -1.0), ("sync_min_days", math.nan),
    ("sync_max_days", 0.1), ("sync_max_days", math.nan),
    ("max_steps", 0), ("max_steps", -5),
    ("initial_step_days", 0.0), ("initial_step_days", -1e-3), ("initial_step_days", math.nan),
])
def test_solver_options_reject_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SolverOptions(**{field: value})


def test_solver_options_accept_good_values():
    options = SolverOptions(rtol=1e-8, atol_scale=0.1, stochastic=False, threshold=100.0, sync_fraction=0.0,
                            sync_min_days=1.0, sync_max_days=1.0, max_steps=10, initial_step_days=1e-4)
    assert options.rtol == 1e-8 and options.max_steps == 10


# ---- integrate: shapes and times -----------------------------------------------------------------


def test_integrate_rejects_bad_state_shapes(quiet):
    days = np.arange(0.0, 5.0)
    with pytest.raises(ValueError, match="y0"):
        integrate(quiet.y0[0], quiet.params, days)
    with pytest.raises(ValueError, match="y0"):
        integrate(quiet.y0[:, :-1], quiet.params, days)
    with pytest.raises(ValueError, match="y0"):
        integrate(np.zeros((1, N_STATES, 1)), quiet.params, days)


def test_integrate_rejects_bad_parameter_shapes(quiet):
    days = np.arange(0.0, 5.0)
    with pytest.raises(ValueError, match="params"):
        integrate(quiet.y0, np.vstack([quiet.params, quiet.params]), days)
    with pytest.raises(ValueError, match="params"):
        integrate(quiet.y0, np.hstack([quiet.params, [[1.0]]]), days)


def test_integrate_rejects_bad_seeds_and_doses(quiet):
    days = np.arange(0.0, 5.0)
    with pytest.raises(ValueError, match="seeds"):
        integrate(quiet.y0, quiet.params, days, seeds=np.array([1, 2]))
    with pytest.raises(ValueError, match="doses"):
        integrate(quiet.y0, quiet.params, days, doses=Doses.none(2))


@pytest.mark.parametrize("times", [[], [0.0, 0.0, 1.0], [3.0, 2.0], [[0.0, 1.0]], [0.0, math.nan, 2.0],
                                   [0.0, math.inf]], ids=["empty", "repeated", "decreasing", "2d", "nan", "inf"])
def test_integrate_rejects_bad_output_times(quiet, times):
    with pytest.raises(ValueError, match="times"):
        integrate(quiet.y0, quiet.params, np.array(times, dtype=float))


def test_integrate_rejects_start_after_last_output(quiet):
    with pytest.raises(ValueError, match="t0"):
        integrate(quiet.y0, quiet.params, np.arange(0.0, 5.0), t0=5.0)


def test_outputs_before_a_patients_start_show_its_initial_state(quiet):
    """Patients of one batch may start at different days (their own first dose)."""
    solution = integrate(quiet.y0, quiet.params, np.arange(0.0, 5.0), t0=2.5)
    assert np.array_equal(solution.values[0, :3], np.repeat(quiet.y0, 3, axis=0))
    assert solution.result[0] == Result.successful


def test_integrate_rejects_out_of_range_output_states(quiet):
    with pytest.raises(ValueError, match="state"):
        integrate(quiet.y0, quiet.params, np.arange(0.0, 5.0), state_indices=[0, N_STATES])


def test_integrate_rejects_a_dose_before_the_start(quiet):
    """A dose before t0 cannot be given at its time; it must not be silently moved to t0."""
    doses = Doses.from_lists([[(-3.0, State.tocilizumab_central, 1.0)]])
    with pytest.raises(ValueError, match="dose"):
        integrate(quiet.y0, quiet.params, np.arange(0.0, 5.0), doses=doses, t0=0.0)


def test_doses_reject_bad_entries(quiet):
    with pytest.raises(ValueError, match="state"):
        Doses.from_lists([[(1.0, -1, 1.0)]])
    # Doses know no model: the integrator checks the index against its states.
    with pytest.raises(ValueError, match="state"):
        integrate(quiet.y0, quiet.params, np.arange(0.0, 5.0), doses=Doses.from_lists([[(1.0, N_STATES, 1.0)]]))
    with pytest.raises(ValueError, match="amount"):
        Doses.from_lists([[(1.0, State.il6, -1.0)]])
    with pytest.raises(ValueError, match="amount"):
        Doses.from_lists([[(1.0, State.il6, math.nan)]])
    with pytest.raises(ValueError, match="day|time"):
        Doses.from_lists([[(math.nan, State.il6, 1.0)]])


# ---- doses --------------------------------------------------------------------------------------


def _tocilizumab_pk(p):
    vc, vp = p[Param.tocilizumab_central_volume], p[Param.tocilizumab_peripheral_volume]
    cl, q = p[Param.tocilizumab_clearance], p[Param.tocilizumab_intercompartmental]
    vmax, km = p[Param.tocilizumab_vmax], p[Param.tocilizumab_km]

    def f(t, z):
        c, per = z
        return [-(cl * c + q * (c - per) + vmax * c / (km + c)) / vc, q * (c - per) / vp]

    return f


def test_dose_is_applied_exactly_at_its_time_and_follows_two_compartment_pk(quiet):
    p = quiet.params[0]
    first, second, amount = 2.5, 6.25, 2.0  # mg/L
    eps = 1e-7
    times = np.unique(np.concatenate([np.arange(0.0, 15.0, 0.25), [first - eps, second - eps]]))
    doses = Doses.from_lists([[(first, State.tocilizumab_central, amount),
                               (second, State.tocilizumab_central, amount)]])
    solution = integrate(quiet.y0, quiet.params, times, doses=doses, t0=0.0,
                         options=SolverOptions(rtol=1e-9, stochastic=False),
                         state_indices=[State.tocilizumab_central, State.tocilizumab_peripheral])
    assert solution.successful.all()
    central, peripheral = solution.values[0].T
    at = {t: i for i, t in enumerate(times)}
    assert np.all(central[times < first] == 0.0)
    assert central[at[first]] == amount, "the whole dose is in the central compartment at its time"
    assert peripheral[at[first]] == 0.0
    # Second dose: a jump of exactly the amount on top of what is left.
    jump = central[at[second]] - central[at[second - eps]]
    assert jump == pytest.approx(amount, rel=1e-5)
    # Decay between and after the doses (no further input).
    between = (times >= first) & (times < second)
    after = times >= second
    assert np.all(np.diff(central[between]) < 0) and np.all(np.diff(central[after]) < 0)
    # Two-compartment PK with linear and saturable elimination (solve_ivp reference).
    f = _tocilizumab_pk(p)
    ref1 = solve_ivp(f, (first, second), [amount, 0.0], method="LSODA", rtol=1e-11, atol=1e-14,
                     dense_output=True)
    c2, p2 = ref1.y[:, -1]
    ref2 = solve_ivp(f, (second, times[-1]), [c2 + amount, p2], method="LSODA", rtol=1e-11, atol=1e-14,
                     dense_output=True)
    np.testing.assert_allclose(solution.values[0][between], ref1.sol(times[between]).T, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(solution.values[0][after], ref2.sol(times[after]).T, rtol=1e-5, atol=1e-9)


def test_dose_at_the_start_is_given_before_the_first_output(quiet):
    doses = Doses.from_lists([[(0.0, State.corticosteroid, 0.5)]])
    solution = integrate(quiet.y0, quiet.params, np.array([0.0, 1.0]), doses=doses, t0=0.0,
                         options=SolverOptions(rtol=1e-9, stochastic=False), state_indices=[State.corticosteroid])
    k = quiet.params[0, Param.corticosteroid_elimination]
    assert solution.values[0, 0, 0] == 0.5
    assert solution.values[0, 1, 0] == pytest.approx(0.5 * math.exp(-k), rel=1e-6)


def test_doses_a_rounding_error_apart_are_both_given(quiet):
    """0.1 + 0.2 and 0.3 differ by 5.6e-17 days: the integrator must not fail on the sliver between."""
    doses = Doses.from_lists([[(0.3, State.tocilizumab_central, 1.0), (0.1 + 0.2, State.tocilizumab_central, 1.0)]])
    solution = integrate(quiet.y0, quiet.params, np.arange(0.0, 3.0), doses=doses, t0=0.0,
                         state_indices=[State.tocilizumab_central])
    assert Result(int(solution.result[0])) == Result.successful, Result(int(solution.result[0])).message
    together = Doses.from_lists([[(0.3, State.tocilizumab_central, 2.0)]])
    reference = integrate(quiet.y0, quiet.params, np.arange(0.0, 3.0), doses=together, t0=0.0,
                          state_indices=[State.tocilizumab_central])
    np.testing.assert_allclose(solution.values, reference.values, rtol=1e-12)  # both doses given


def test_simulate_accepts_a_first_dose_between_whole_days():
    scenario = Scenario(schedule=[{"drug": "tocilizumab", "day": -5.5, "dose": 8.0}], simulation={"days": 30})
    result = cartsim.simulate(scenario)
    assert result.days[0] <= -5.5 and result.days[-1] == 30


# ---- results per patient ------------------------------------------------------------------------


def test_max_steps_is_reported_per_patient_and_does_not_disturb_the_batch():
    quiet_patient, busy_patient = quiet_scenario(), Scenario()  # busy: infusion, expansion, CRS
    batch = build_batch([quiet_patient, busy_patient, quiet_patient])
    times = np.array([0.0, 1.0, 2.0])
    full = integrate(batch.y0, batch.params, times, doses=batch.doses, seeds=batch.seeds, t0=batch.t0)
    assert full.successful.all()
    quiet_steps = int(full.steps[0])
    assert full.steps[1] > quiet_steps, "the busy patient needs more steps"
    limited = integrate(batch.y0, batch.params, times, doses=batch.doses, seeds=batch.seeds, t0=batch.t0,
                        options=SolverOptions(max_steps=quiet_steps))
    assert [Result(int(r)) for r in limited.result] == [Result.successful, Result.max_steps_reached,
                                                        Result.successful]
    assert limited.steps[1] == quiet_steps
    assert np.array_equal(limited.values[[0, 2]], full.values[[0, 2]])
    assert not limited.successful[1]
    # max_steps = 5: not enough for anyone here.
    tiny = integrate(batch.y0, batch.params, times, doses=batch.doses, seeds=batch.seeds, t0=batch.t0,
                     options=SolverOptions(max_steps=5))
    assert np.all(tiny.result == Result.max_steps_reached) and np.all(tiny.steps == 5)


def test_a_non_finite_patient_is_reported_as_such_and_the_others_succeed():
    batch = build_batch([quiet_scenario()] * 3)
    y0 = batch.y0.copy()
    y0[1, State.il6] = math.nan
    times = np.array([0.0, 1.0])
    try:
        solution = integrate(y0, batch.params, times, doses=batch.doses, seeds=batch.seeds, t0=0.0)
    except ValueError as error:  # rejecting a NaN initial state outright is fine too
        assert "y0" in str(error) or "finite" in str(error)
        return
    assert [Result(int(r)) for r in solution.result] == [Result.successful, Result.non_finite, Result.successful]
    assert np.array_equal(solution.values[0], solution.values[2])
