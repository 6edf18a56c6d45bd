"""The clinical clock: integrate every patient to the next visit, then grade, treat, assess, record.

Between visits the batched solver advances all living patients at once; at a
visit everything is evaluated vectorised over patients: the observables
(temperature, pressure support, oxygen, ICE score, blood counts, nodes,
marrow, MRD), ASTCT CRS and ICANS grades (and the CRS grade by the older Lee
2014 and Penn scales, which the protocol does not act on but trials graded by
them report), the protocol's rules (whose doses enter the drug states as
boluses), deaths from competing hazards, and at the response assessments the
response under the criteria of the patient's disease (iwCLL 2018, B-ALL, Lugano
2014) and MRD.

A patient takes part only in its own visits (weekly from its own start while
the product is made, then the common schedule from infusion) and its random
draws depend only on its seed and the number of its own visit, so its results
are bit-identical in any batch, chunk or worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .._batch import DRUG_STATES, Batch
from .._engine import integrate, new_sync_state
from ..io import ClinicalSettings, Rule, Scenario, json_value
from ..model import N_OBSERVABLES, N_STATES, Obs, Param, observe
from ..solver import Doses, Result, SolverOptions
from . import _response as response
from ._criteria import mrd_negative_remission, response_by_disease
from ._grading import CRS_SCALES, FEVER_C, crs_grade, crs_grade_by, icans_grade
from ._protocol import ProtocolState, decide
from .._seeds import mix_seeds
from ._survival import CAUSES, NO_DEATH, death_thresholds, first_death, hazards

DAYS_PER_MONTH = 365.25 / 12
#: Endpoint of the maximum CRS grade under each scale (ASTCT's is the clinic's own, ``crs_max_grade``).
CRS_GRADE_ENDPOINTS = {scale: "crs_max_grade" if scale == "ASTCT" else
                       "crs_max_grade_" + scale.lower().replace(" ", "") for scale in CRS_SCALES}
FIRST_ASSESSMENT_DAY = 28.0
MONTH3_DAY = 90.0  # the month-3 assessment, where uMRD is reported
PRE_INFUSION_VISIT_DAYS = 7.0


def visit_days(visits, end_day: float) -> np.ndarray:
    """Visit days from infusion (day 0) to ``end_day`` under a piecewise schedule, plus the response
    assessments (day 28, month 3, then every 3 months)."""
    days, start = [], 0.0
    for segment in visits:
        until = end_day if segment.until_day is None else min(segment.until_day, end_day)
        days.append(np.arange(start, until, segment.every_hours / 24.0))
        start = max(start, until)
    days.append(assessment_days(end_day))
    days.append([end_day])
    return np.unique(np.round(np.concatenate(days), 9))


def assessment_days(end_day: float) -> np.ndarray:
    """iwCLL response assessments: day 28, month 3 (day 90), then every 3 months (whole days)."""
    later = MONTH3_DAY + np.round(3 * DAYS_PER_MONTH * np.arange(1, int(end_day / 91) + 2))
    days = np.concatenate([[FIRST_ASSESSMENT_DAY, MONTH3_DAY], later])
    return days[days <= end_day]


def _window(doses: Doses, start: float, stop: float) -> Doses:
    """The doses due in ``[start, stop)`` (all of them after ``start`` when ``stop`` is inf).

    A dose less than ``eps`` before a visit belongs to the segment the visit starts, and is given at its
    start (not before it, where that segment's integration does not reach)."""
    eps = 1e-9
    slot = np.arange(doses.times.shape[1]) < doses.counts[:, None]
    due = slot & (doses.times >= start - eps) & (doses.times < stop - eps)
    order = np.argsort(~due, axis=1, kind="stable")
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return Doses(np.maximum(take(doses.times), start), take(doses.states), take(doses.amounts), due.sum(axis=1))


@dataclass
class VisitRecord:
    """Per-visit observables and grades (None unless events are recorded), and the states at the record
    days (single patients, figures, validation cohorts)."""

    days: np.ndarray
    observables: np.ndarray | None  # [visit, patient, observable]
    crs: np.ndarray | None  # [visit, patient]
    icans: np.ndarray
    record_days: np.ndarray
    states: np.ndarray  # [patient, record day, state]


@dataclass
class ClinicalOutcome:
    """What happened to each patient: ``endpoints`` are arrays over patients; ``events`` (when
    recorded) list each patient's (day, event, grade, action) dictionaries."""

    endpoints: dict[str, np.ndarray]
    status: np.ndarray
    events: list[list[dict]] | None = None
    record: VisitRecord | None = field(default=None, repr=False)


class _Tracker:
    """Per-patient bookkeeping across visits, vectorised."""

    def __init__(self, n: int, baseline: np.ndarray, seeds: np.ndarray, record_events: bool,
                 infused: np.ndarray, disease: np.ndarray):
        nan = np.full(n, np.nan)
        self.e = {
            "crs_max_grade": np.zeros(n, np.int8), "crs_onset_day": nan.copy(),
            "icans_max_grade": np.zeros(n, np.int8), "icans_onset_day": nan.copy(),
            **{name: np.zeros(n, np.int8) for name in CRS_GRADE_ENDPOINTS.values() if name != "crs_max_grade"},
            "response_day28": np.full(n, response.NOT_ASSESSED, np.int8),
            "response_month3": np.full(n, response.NOT_ASSESSED, np.int8),
            "best_response": np.full(n, response.NOT_ASSESSED, np.int8),
            "mrd_negative_remission_day28": np.zeros(n, bool), "mrd_negative_remission_month3": np.zeros(n, bool),
            "umrd4_blood_day90": np.zeros(n, bool), "umrd4_marrow_day90": np.zeros(n, bool),
            "umrd6_blood_day90": np.zeros(n, bool), "umrd6_marrow_day90": np.zeros(n, bool),
            "progressed": np.zeros(n, bool), "pfs_days": nan.copy(), "died": np.zeros(n, bool),
            "os_days": nan.copy(), "death_cause": np.full(n, NO_DEATH, np.int8),
            "car_t_peak_cells": np.zeros(n), "car_t_peak_day": np.zeros(n),
            "il6_peak_pg_ml": np.zeros(n), "fever_max_c": np.full(n, 37.0),
        }
        for drug in DRUG_STATES:
            self.e[f"{drug}_doses"] = np.zeros(n, np.int32)
        self.last_dose_day = {drug: np.full(n, -np.inf) for drug in DRUG_STATES}
        self.baseline = baseline
        self.nadir = baseline
        self.cumulative_hazard = np.zeros((n, len(CAUSES)))
        self.thresholds = death_thresholds(seeds)
        self.events = [[] for _ in range(n)] if record_events else None
        self.infused = infused  # who is given CAR-T cells (not after a failed manufacture)
        self.disease = disease  # each patient's disease code: the response criteria applied

    def log(self, patients: np.ndarray, day, event: str, grade: np.ndarray | None = None,
            action=lambda i: None) -> None:
        """Record ``event`` for each patient in the mask ``patients`` (when events are recorded);
        ``day`` and ``grade`` are per patient or shared, ``action(i)`` describes what was done."""
        if self.events is None:
            return
        for i in np.flatnonzero(patients):
            when = day[i] if np.ndim(day) else day
            self.events[i].append({"day": round(float(when), 4), "event": event,
                                   "grade": None if grade is None else int(grade[i]), "action": action(i)})


@dataclass(frozen=True)
class Care:
    """What every patient of a clinical batch shares: the protocol's rules, the visits, the follow-up after
    infusion (days) and the solver's options."""

    protocol: tuple[Rule, ...]
    clinical: ClinicalSettings
    follow_up_days: float
    options: SolverOptions

    @classmethod
    def of(cls, scenarios: Sequence[Scenario]) -> Care:
        """The care of ``scenarios``, which must share protocol, visits and follow-up (the solver options
        are the first one's)."""
        first = scenarios[0]
        for s in scenarios[1:]:
            if (s.protocol, s.clinical, s.simulation.days) != (first.protocol, first.clinical, first.simulation.days):
                raise ValueError("patients of one clinical batch must share protocol, clinical visits and follow-up")
        return cls(first.protocol, first.clinical, first.simulation.days,
                   SolverOptions(rtol=first.simulation.rtol, stochastic=first.simulation.stochastic))


def run_clinical(batch: Batch, care: Care, *, record_days: np.ndarray | None = None,
                 record_events: bool = False) -> ClinicalOutcome:
    """Follow every patient of ``batch`` through the clinical clock under the shared ``care``."""
    options = care.options
    n = batch.y0.shape[0]
    end = float(care.follow_up_days)
    # Weekly visits while the product is made: the death hazards follow the patient's state before infusion.
    # The batch's visits are the union of its patients' own; a patient takes part only in its own
    # (those after its start, and all from infusion on), numbered from its own first visit, so that
    # neither its grades nor its random streams depend on who else is in the batch.
    before = np.arange(-PRE_INFUSION_VISIT_DAYS, batch.t0.min(), -PRE_INFUSION_VISIT_DAYS)
    visits = np.concatenate([before[::-1], visit_days(care.clinical.visits, end)])
    skipped = (before[None, :] <= batch.t0[:, None]).sum(axis=1)  # batch visits before each one's own
    assessments = set(assessment_days(end).tolist())
    rules = care.protocol
    weight, age, schedule = batch.weight_kg, batch.age_years, batch.scheduled

    y = batch.y0.copy()
    p = batch.params
    baseline = _observations(observe(y, p))
    infused = batch.products.infused
    track = _Tracker(n, baseline, batch.seeds, record_events, infused, batch.disease)
    protocol = ProtocolState.start(len(rules), n)
    status = np.full(n, Result.successful.value, np.int64)
    alive = np.ones(n, bool)
    h = np.full(n, options.initial_step_days)
    sync = new_sync_state(n)  # stochastic intervals stay open across visits
    record_days = np.empty(0) if record_days is None else np.asarray(record_days, dtype=np.float64)
    recorded = np.zeros((n, record_days.size, N_STATES))
    waiting = record_days[None, :] < batch.t0[:, None]  # before a patient's start: its initial state
    recorded[waiting] = np.repeat(y, waiting.sum(axis=1), axis=0)
    visit_obs = np.zeros((visits.size, n, N_OBSERVABLES)) if record_events else None
    visit_grades = np.zeros((2, visits.size, n), np.int8) if record_events else None

    start = batch.t0.copy()
    previous = float(start.min())
    for k, day in enumerate(visits):
        # ---- integrate the living to this visit -----------------------------------------------------
        active = np.flatnonzero(alive & (status == Result.successful.value) & (start < day))
        if active.size and day > previous:
            # A record day shows the state after that day's doses: recorded in the segment it starts.
            last = k == visits.size - 1
            times = np.union1d(record_days[(record_days >= previous) & ((record_days < day) | last)], [day])
            kept = np.isin(times, record_days) & ((times < day) | last)
            doses = _window(batch.doses.take(active), previous, day)
            solution = integrate(y[active], p[active], times, doses=doses,
                                 seeds=_visit_seeds(batch.seeds[active], k - skipped[active]),
                                 t0=np.maximum(start[active], previous),
                                 options=options, initial_steps=h[active], sync_state=sync[active])
            y[active] = solution.values[:, -1, :]
            h[active] = solution.next_steps
            sync[active] = solution.sync_state
            status[active] = solution.result
            recorded[np.ix_(active, np.searchsorted(record_days, times[kept]))] = solution.values[:, kept, :]
            _count_schedule(track, schedule, previous, day)
            failed = active[solution.result != Result.successful.value]
            alive[failed] = False
            # The solver lost them: censor where it stopped.
            track.e["pfs_days"][failed] = np.where(np.isnan(track.e["pfs_days"][failed]), previous,
                                                   track.e["pfs_days"][failed])
            track.e["os_days"][failed] = previous
        live = alive & (status == Result.successful.value) & ((day >= 0.0) | (day > batch.t0))
        dt = np.maximum(day - np.maximum(start, previous), 0.0)  # each patient's own time since its start
        previous = day
        # ---- observe and grade -------------------------------------------------------------------------
        obs = observe(y, p)
        masked = (track.e["tocilizumab_doses"] > 0) | (track.e["corticosteroid_doses"] > 0)
        crs = np.where(live, crs_grade(np.clip(obs[:, Obs["temperature_c"]], 25, 45), obs[:, Obs["hypotension"]],
                                       obs[:, Obs["oxygen"]], masked), 0).astype(np.int8)
        icans = np.where(live, icans_grade(obs[:, Obs["ice_score"]], obs[:, Obs["consciousness"]],
                                           obs[:, Obs["seizure"]], obs[:, Obs["motor"]], obs[:, Obs["edema"]]),
                         0).astype(np.int8)
        _grades(track, live, day, crs, icans, obs)
        _older_crs_grades(track, live, obs, masked)
        if visit_obs is not None:
            visit_obs[k], visit_grades[0, k], visit_grades[1, k] = obs, crs, icans
        # ---- deaths over the interval just integrated --------------------------------------------------
        if np.any(dt > 0):
            # Progression found at an earlier assessment switches the CLL hazard to the post-progression one.
            hazard = hazards(obs, crs, icans, p, age + day / 365.25, track.e["progressed"])
            cause, fraction = first_death(track.cumulative_hazard, hazard * dt[:, None], track.thresholds)
            dead = live & (cause != NO_DEATH)
            if dead.any():
                _die(track, dead, cause, day - dt * (1.0 - fraction))
                alive &= ~dead
                live &= ~dead
        # ---- response assessment -----------------------------------------------------------------------
        if day in assessments:
            _assess(track, live, day, obs)
        # ---- protocol ---------------------------------------------------------------------------------
        if rules:
            _treat(track, rules, protocol, y, p, day, crs, icans, obs, weight, live)

    _finish(track, status, end)
    record = None
    if record_events or record_days.size:
        grades = (None, None) if visit_grades is None else (visit_grades[0], visit_grades[1])
        record = VisitRecord(visits, visit_obs, *grades, record_days, recorded)
    return ClinicalOutcome(track.e, status, track.events, record)


def _treat(track: _Tracker, rules, protocol: ProtocolState, y, p, day, crs, icans, obs, weight, live) -> None:
    """Give the doses the protocol's rules decide at this visit, as boluses into the drug states."""
    variables = _visit_variables(track, day, crs, icans, obs)
    for index, mg in decide(rules, protocol, variables, day, weight, live):
        rule = rules[index]
        state, volume = DRUG_STATES[rule.give]
        given = mg > 0
        y[given, state] += mg[given] / p[given, Param[volume]]
        track.e[f"{rule.give}_doses"] += given
        track.last_dose_day[rule.give][given] = day
        track.log(given, day, rule.give, crs,
                  lambda i: f"{mg[i]:.0f} mg: {rule.name} (CRS {crs[i]}, ICANS {icans[i]})")


def _visit_seeds(seeds: np.ndarray, visit: np.ndarray) -> np.ndarray:
    """The seeds of the solver's draws up to a patient's ``visit``-th own visit (counted from 0):
    ``mix_seeds(seed, visit)`` per patient."""
    out = np.empty(seeds.shape, dtype=np.uint64)
    for number in np.unique(visit):  # a few distinct numbers: the starts differ by a few weeks
        mine = visit == number
        out[mine] = mix_seeds(seeds[mine], int(number))
    return out


def _count_schedule(track: _Tracker, schedule: dict[str, np.ndarray], start: float, stop: float) -> None:
    """Scheduled doses count as given (for the protocol's variables) once their day has passed."""
    for drug, days in schedule.items():
        due = (days >= start) & (days < stop)
        track.e[f"{drug}_doses"] += due.sum(axis=1, dtype=np.int32)
        latest = np.where(due, days, -np.inf).max(axis=1)
        track.last_dose_day[drug] = np.maximum(track.last_dose_day[drug], latest)


def _observations(obs: np.ndarray) -> response.Observations:
    return response.Observations(**{name: obs[:, Obs[name]].copy() for name in (
        "lymphocytes_per_ul", "b_lymphocytes_per_ul", "node_spd_cm2", "largest_node_cm", "spleen_cm",
        "marrow_infiltration", "neutrophils_per_ul", "platelets_per_ul", "hemoglobin_g_dl")})


def _grades(track: _Tracker, live, day, crs, icans, obs) -> None:
    e = track.e
    for name, grade in (("crs", crs), ("icans", icans)):
        onset = live & (grade > 0) & np.isnan(e[f"{name}_onset_day"])
        e[f"{name}_onset_day"][onset] = day
        worse = live & (grade > e[f"{name}_max_grade"])
        track.log(worse, day, name.upper(), grade)
        e[f"{name}_max_grade"] = np.maximum(e[f"{name}_max_grade"], grade)
    car_t = obs[:, Obs["car_t_cells"]]
    higher = live & (car_t > e["car_t_peak_cells"])
    e["car_t_peak_cells"][higher] = car_t[higher]
    e["car_t_peak_day"][higher] = day
    for name, column in (("fever_max_c", "temperature_c"), ("il6_peak_pg_ml", "il6_pg_ml")):
        e[name] = np.where(live, np.maximum(e[name], obs[:, Obs[column]]), e[name])


def _older_crs_grades(track: _Tracker, live, obs, masked) -> None:
    """The maximum CRS grade under the scales other than ASTCT (reported, not acted on by the protocol)."""
    for scale, name in CRS_GRADE_ENDPOINTS.items():
        if name == "crs_max_grade":
            continue
        grade = crs_grade_by(scale, np.clip(obs[:, Obs["temperature_c"]], 25, 45), obs[:, Obs["hypotension"]],
                             obs[:, Obs["oxygen"]], masked, obs[:, Obs["neutrophils_per_ul"]])
        track.e[name] = np.maximum(track.e[name], np.where(live, grade, 0)).astype(np.int8)


def _die(track: _Tracker, dead, cause, when) -> None:
    """Record deaths; a death from CRS or ICANS is their grade 5 (ASTCT)."""
    e = track.e
    e["died"] |= dead
    e["os_days"][dead] = when[dead]
    e["death_cause"][dead] = cause[dead]
    first = dead & ~e["progressed"]
    e["pfs_days"][first] = when[first]
    grade_names = [*CRS_GRADE_ENDPOINTS.values(), "icans_max_grade"]
    for grade_name in grade_names:
        toxicity = "ICANS" if grade_name.startswith("icans") else "CRS"
        e[grade_name][dead & (cause == CAUSES.index(toxicity))] = 5
    track.log(dead, when, "death", action=lambda i: CAUSES[cause[i]])


def _assess(track: _Tracker, live, day, obs) -> None:
    e = track.e
    current = _observations(obs)
    code = np.where(live, response_by_disease(track.disease, current, track.baseline, track.nadir),
                    response.NOT_ASSESSED)
    track.nadir = response.update_nadir(track.nadir, current)
    remission = live & mrd_negative_remission(code, obs[:, Obs["mrd_marrow"]])
    if day == FIRST_ASSESSMENT_DAY:
        e["response_day28"][:] = code
        e["mrd_negative_remission_day28"] = remission
    if day == MONTH3_DAY:
        e["response_month3"][:] = code
        e["mrd_negative_remission_month3"] = remission
        for site in ("blood", "marrow"):
            for level, threshold in (("4", 1e-4), ("6", 1e-6)):
                e[f"umrd{level}_{site}_day90"] = live & response.undetectable_mrd(obs[:, Obs[f"mrd_{site}"]], threshold)
    e["best_response"] = response.best_response(np.stack([e["best_response"], code.astype(np.int8)]), axis=0)
    progression = live & (code == response.PD) & ~e["progressed"]
    e["progressed"] |= progression
    e["pfs_days"][progression] = day
    track.log(live, day, "response", action=lambda i: response.RESPONSES[code[i]])


def _visit_variables(track: _Tracker, day, crs, icans, obs) -> dict[str, np.ndarray]:
    e = track.e
    n = crs.shape[0]
    variables = {"day": np.full(n, day), "crs_grade": crs, "icans_grade": icans,
                 "crs_max_grade": e["crs_max_grade"], "icans_max_grade": e["icans_max_grade"],
                 "temperature_c": obs[:, Obs["temperature_c"]],
                 "fever": (obs[:, Obs["temperature_c"]] >= FEVER_C).astype(np.int8),
                 "infused": (track.infused & (day >= 0)).astype(np.int8)}
    for drug in DRUG_STATES:
        variables[f"{drug}_doses"] = e[f"{drug}_doses"]
        variables[f"hours_since_{drug}"] = (day - track.last_dose_day[drug]) * 24.0
    return variables


def _finish(track: _Tracker, status, end) -> None:
    """Censor the living at the end of follow-up (patients the solver lost are already censored)."""
    e = track.e
    open_pfs = np.isnan(e["pfs_days"])
    e["pfs_days"][open_pfs] = end
    e["os_days"][np.isnan(e["os_days"])] = end
    e["pfs_event"] = e["progressed"] | e["died"]
    e["os_event"] = e["died"].copy()
    e["solver_failed"] = status != Result.successful.value


def clinical_summary(outcome: ClinicalOutcome, patient: int) -> dict:
    """The clinical endpoints of one patient of ``outcome`` as a JSON-ready dictionary."""
    e = {name: json_value(values[patient]) for name, values in outcome.endpoints.items()}
    named = lambda code, names: names[code] if code >= 0 else None  # noqa: E731
    summary = {
        **{name: e[name] for name in CRS_GRADE_ENDPOINTS.values()}, "crs_onset_day": e["crs_onset_day"],
        "icans_max_grade": e["icans_max_grade"], "icans_onset_day": e["icans_onset_day"],
        "fever_max_c": round(e["fever_max_c"], 2),
        "best_response": named(e["best_response"], response.RESPONSES),
        "response_day28": named(e["response_day28"], response.RESPONSES),
        "response_month3": named(e["response_month3"], response.RESPONSES),
        **{key: e[key] for key in ("mrd_negative_remission_day28", "mrd_negative_remission_month3",
                                   "umrd4_blood_day90", "umrd4_marrow_day90", "umrd6_blood_day90",
                                   "umrd6_marrow_day90", "progressed", "pfs_days", "died", "os_days")},
        "death_cause": named(e["death_cause"], CAUSES),
        **{f"{drug}_doses": e[f"{drug}_doses"] for drug in DRUG_STATES},
    }
    summary["events"] = outcome.events[patient] if outcome.events is not None else []
    return summary
