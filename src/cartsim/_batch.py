"""From patients and their treatments to the arrays the engine integrates: manufactured products, initial
states, parameters, doses, seeds.

Every stage is a function of arrays over patients: a *patient table* (the columns of a population frame,
:data:`PATIENT_COLUMNS`) and each patient's :class:`~cartsim.io.Treatment`, one shared by a whole trial arm
or one per scenario. A list of scenarios takes the same path: its patient blocks become a patient table
(:func:`patient_table`) and each scenario is its patient's treatment (:func:`build_batch`).

A patient's simulation starts at apheresis, ``vein_to_vein_days`` before the
infusion (day 0), or at its first scheduled dose if earlier: the patient's
tumour is the burden at apheresis, and it grows while the product is made
unless bridging therapy holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .io import Patient, Product, Scenario, Treatment, Tumor
from ._diseases import disease_codes
from .model import DRUG_TABLE, PARAMETER_NAMES, Param, State, baseline_state, default_parameters
from .patient import TUMOR_FIELDS
from .product import Products, construct_parameters, manufacture
from .solver import Doses

#: Which state each drug fills, and the parameter holding its distribution volume (L).
DRUG_STATES = {drug.name: (State[drug.state], drug.volume) for drug in DRUG_TABLE}

#: Columns of a patient table: a population frame's (:func:`cartsim.patient.sample_population`), which may
#: lack the optional ones (:data:`OPTIONAL_COLUMNS`).
PATIENT_COLUMNS = ("age_years", "weight_kg", "tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells",
                   "antigen_negative_fraction", "normal_b_cells", "tcell_fitness", "cytokine_propensity",
                   "cd4_fraction", "prior_lines", "prior_btki", "t_cells_per_ul", "disease", "tumor_growth_factor",
                   "antigen_density", "node_access", "killing_factor")
#: Columns a table may lack, with the value of a patient that does not set them (a CLL patient's biology).
OPTIONAL_COLUMNS = {"t_cells_per_ul": Patient.model_fields["t_cells_per_ul"].default,
                    "disease": Patient.model_fields["disease"].default,
                    **{column: Tumor.model_fields[TUMOR_FIELDS[column]].default
                       for column in ("tumor_growth_factor", "antigen_density", "node_access", "killing_factor")}}
#: The product fields manufacturing reads; the optional ones (None in a Product) are NaN in its arrays.
_MANUFACTURED_FIELDS = ("source", "manufacturing", "dose_cells", "vein_to_vein_days", "transduction_efficiency",
                        "memory_fraction", "senescent_fraction", "gvhd_risk")
_OPTIONAL_PRODUCT_FIELDS = ("dose_cells_per_kg", "minimum_dose_cells", "cd4_fraction")


@dataclass(frozen=True)
class Batch:
    """Everything the engine and the clinical clock need for a batch of patients, each starting at its
    own ``t0``."""

    y0: np.ndarray
    params: np.ndarray
    doses: Doses
    seeds: np.ndarray
    t0: np.ndarray  # each patient's start: apheresis, or its first dose if earlier
    products: Products  # each patient's infused product (or failed manufacture)
    age_years: np.ndarray
    weight_kg: np.ndarray
    scheduled: dict[str, np.ndarray]  # per drug, each patient's scheduled dose days, NaN-padded
    disease: np.ndarray  # each patient's disease code (cartsim.patient.DISEASE_NAMES): its response criteria

    def take(self, rows: np.ndarray) -> Batch:
        """The batch of the patients ``rows`` (indices), in that order."""
        return Batch(self.y0[rows], self.params[rows], self.doses.take(rows), self.seeds[rows], self.t0[rows],
                     self.products.take(rows), self.age_years[rows], self.weight_kg[rows],
                     {drug: days[rows] for drug, days in self.scheduled.items()}, self.disease[rows])


def patient_table(patients: Sequence[Patient]) -> dict[str, np.ndarray]:
    """The patient table of scenario ``patient`` blocks: an array over them per :data:`PATIENT_COLUMNS`."""
    def value(patient: Patient, column: str):
        return getattr(patient.tumor, TUMOR_FIELDS[column]) if column in TUMOR_FIELDS else getattr(patient, column)

    return {column: np.array([value(p, column) for p in patients]) for column in PATIENT_COLUMNS}


def product_columns(products: Sequence[Product]) -> dict[str, np.ndarray]:
    """The fields manufacturing reads, each an array over ``products`` (NaN for an optional one left out)."""
    columns = {name: np.array([getattr(p, name) for p in products]) for name in _MANUFACTURED_FIELDS}
    for name in _OPTIONAL_PRODUCT_FIELDS:
        columns[name] = np.array([np.nan if getattr(p, name) is None else getattr(p, name) for p in products],
                                 dtype=np.float64)
    return columns


#: How a bound of the scenario schema (annotated_types' Gt, Ge, Lt, Le) tests a column.
_BOUND_TESTS = {"gt": np.greater, "ge": np.greater_equal, "lt": np.less, "le": np.less_equal}


def _check_bounds(table: dict[str, np.ndarray]) -> None:
    """Refuse a value outside the bounds of its field in a scenario's patient block: a table skips the
    per-patient validation, not the bounds (a NaN fails every bound)."""
    for column, values in table.items():
        if column == "disease":  # a code, checked when it was made (disease_codes)
            continue
        model, name = (Tumor, TUMOR_FIELDS[column]) if column in TUMOR_FIELDS else (Patient, column)
        for rule in model.model_fields[name].metadata:
            for kind, test in _BOUND_TESTS.items():
                bound = getattr(rule, kind, None)
                if bound is not None and not test(values, bound).all():
                    row = int(np.flatnonzero(~test(values, bound))[0])
                    raise ValueError(f"patient table row {row}: {column} = {values[row]:g} must be {kind} {bound:g}")


def patient_arrays(patients: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The patient table as float arrays, checked, the optional columns filled in where it lacks them."""
    n = len(patients[PATIENT_COLUMNS[0]])
    given = {column: patients[column] if column in patients else np.full(n, OPTIONAL_COLUMNS[column])
             for column in PATIENT_COLUMNS}
    given["disease"] = disease_codes(given["disease"])
    table = {column: np.asarray(values, dtype=np.float64) for column, values in given.items()}
    _check_bounds(table)
    return table


def _distinct(treatments: Treatment | Sequence[Treatment], n: int) -> tuple[list[Treatment], list[np.ndarray]]:
    """The distinct treatments and the rows of the patients given each. A list that repeats one object
    (``[scenario] * 4``) gives it once: its dose slots and parameter overlay are made once."""
    if isinstance(treatments, Treatment):
        return [treatments], [np.arange(n)]
    if len(treatments) != n:
        raise ValueError(f"need one treatment per patient or one for all; got {len(treatments)} for {n} patients")
    rows: dict[int, list[int]] = {}
    kinds: dict[int, Treatment] = {}
    for i, treatment in enumerate(treatments):
        rows.setdefault(id(treatment), []).append(i)
        kinds[id(treatment)] = treatment
    return list(kinds.values()), [np.array(r) for r in rows.values()]


def _spread(per_kind: np.ndarray, groups: list[np.ndarray], n: int) -> np.ndarray:
    """Values per distinct treatment (first axis) copied to each patient given it."""
    which = np.empty(n, dtype=np.intp)
    for k, rows in enumerate(groups):
        which[rows] = k
    return per_kind[which]


def _construct_defaults(product: Product) -> np.ndarray:
    """The parameter table's defaults with the product's construct values."""
    values = dict(zip(PARAMETER_NAMES, default_parameters()))
    values.update(construct_parameters(product.costimulation, product.target, product.suicide_switch,
                                       product.source))
    return np.array([values[name] for name in PARAMETER_NAMES])


def _parameters(patients: dict[str, np.ndarray], kinds: list[Treatment], groups: list[np.ndarray],
                made: Products) -> np.ndarray:
    """Each patient's parameter vector: defaults, construct, patient, then the treatment's overrides."""
    n = len(made)
    params = _spread(np.array([_construct_defaults(t.product) for t in kinds]), groups, n)
    params[:, Param.tcell_fitness] = made.car_t_fitness
    params[:, Param.product_senescent_fraction] = made.senescent_fraction
    params[:, Param.btki_exposed] = np.asarray(patients["prior_btki"], bool)
    params[:, Param.cytokine_propensity] = patients["cytokine_propensity"]
    _tumour_biology(params, patients)
    blood, marrow = patients["tumor_blood_cells"], patients["tumor_marrow_cells"]
    # Start at trafficking equilibrium: homing balances the measured egress for the given distribution.
    for site in ("marrow", "node"):
        cells = patients[f"tumor_{site}_cells"]
        at = (cells > 0) & (blood > 0)
        params[at, Param[f"cll_homing_{site}"]] = params[at, Param[f"cll_egress_{site}"]] * cells[at] / blood[at]
    # Start normal B cells at steady state under the marrow infiltration.
    params[:, Param.b_cell_production] = (params[:, Param.b_cell_death] * patients["normal_b_cells"]
                                          * (1.0 + marrow / params[:, Param.b_cell_marrow_suppression]))
    # The equilibrium values follow from a valid patient and are not held to the override ranges: bulky
    # tissues next to few blood cells need a fast homing, and the implicit solver takes it.
    for treatment, rows in zip(kinds, groups):
        for name, value in treatment.parameters.items():
            params[rows, Param[name]] = value
    return params


def _tumour_biology(params: np.ndarray, patients: dict[str, np.ndarray]) -> None:
    """The patient's tumour, relative to CLL, as its model parameters (cartsim._diseases): proliferation scales the
    CLL birth rates; antigen density scales the site access weights, which weigh both the antigen that stimulates
    CAR-T and the per-target kill rate at each site (more antigen per cell, more engagement and killing; normal
    B cells keep theirs); node access is the nodal weight before that; the microenvironment scales the kill rate.
    A CLL patient (all 1, node access the table's) keeps the table's values. Like the homing rates, these are
    per-patient values, not overrides, and are not held to the override ranges."""
    for site in ("blood", "marrow", "node"):
        params[:, Param[f"cll_birth_{site}"]] *= patients["tumor_growth_factor"]
    params[:, Param.access_node] = patients["node_access"]
    for site in ("blood", "marrow", "node"):
        params[:, Param[f"access_{site}"]] *= patients["antigen_density"]
    params[:, Param.max_kill_rate] *= patients["killing_factor"]


def initial_states(patients: Mapping[str, np.ndarray], params: np.ndarray) -> np.ndarray:
    """The steady state of each untreated patient (a patient table) under its parameters ``[patient,
    parameter]``, before lymphodepletion: the table's baselines, and the patient's own CLL by compartment
    and clone and normal B cells."""
    patients = patient_arrays(patients)
    y = baseline_state(dict(zip(PARAMETER_NAMES, params.T)))
    negative = patients["antigen_negative_fraction"]
    for site in ("blood", "marrow", "node"):
        cells = patients[f"tumor_{site}_cells"]
        y[:, State[f"cll_pos_{site}"]] = (1.0 - negative) * cells
        y[:, State[f"cll_neg_{site}"]] = negative * cells
    y[:, State.normal_b_cells] = patients["normal_b_cells"]
    return y


def _infusion_slots(treatment: Treatment, made: Products) -> list[tuple[float, int, np.ndarray]]:
    """The CAR-T infusion's slots: each fraction of ``product.infusion`` on its day, that share of the released
    product in every lineage and phenotype (one fraction of 1 on day 0 unless the dose is split)."""
    k = treatment.product.prior_exposures
    infusion = treatment.product.infusion
    effector = 1.0 - made.memory_fraction - made.senescent_fraction
    slots = []
    for day, fraction in zip(infusion.days, infusion.fractions):
        # A fraction of 1 multiplies nothing: a single infusion's amounts are exactly the product's.
        dose = made.dose_cells if fraction == 1.0 else made.dose_cells * fraction
        for lineage, share in (("cd4", made.cd4_fraction), ("cd8", 1.0 - made.cd4_fraction)):
            cells = dose * share
            slots += [(day, State[f"{lineage}_resting_{k}"], cells * made.memory_fraction),
                      (day, State[f"{lineage}_effector_{k}"], cells * effector),
                      (day, State[f"{lineage}_senescent"], cells * made.senescent_fraction)]
    return slots


def _dose_slots(treatment: Treatment, params: np.ndarray, made: Products) -> list[tuple[float, int, np.ndarray]]:
    """(day, state, amount per patient) of one treatment's doses, in the order they are given on a day:
    lymphodepletion, the CAR-T infusion (day 0, or the days of a split dose) and the drug schedule. An
    amount of 0 is no dose (no lymphodepletion nor cells when manufacturing failed)."""
    slots = []
    if treatment.lymphodepletion.regimen == "flu_cy":
        intensity = np.where(made.failed, 0.0, treatment.lymphodepletion.intensity)
        slots += [(day, State.lymphodepletion, intensity) for day in treatment.lymphodepletion.days]
    slots += _infusion_slots(treatment, made)
    for given in treatment.schedule:
        state, volume = DRUG_STATES[given.drug]
        slots += [(day, state, given.dose / params[:, Param[volume]]) for day in given.days]
    return slots


def patient_doses(treatments: Treatment | Sequence[Treatment], params: np.ndarray, made: Products) -> Doses:
    """Every patient's doses under its parameters ``[patient, parameter]`` and its product, given
    ``treatments`` (one for all, or one per patient): each treatment's slots for its patients, by day."""
    kinds, groups = _distinct(treatments, len(params))
    slots = [_dose_slots(t, params[rows], made.take(rows)) for t, rows in zip(kinds, groups)]
    n, width = len(params), max(map(len, slots))
    times, states, amounts = np.full((n, width), np.inf), np.zeros((n, width), np.int64), np.zeros((n, width))
    for own, rows in zip(slots, groups):
        if own:
            times[rows, :len(own)] = [day for day, _, _ in own]
            states[rows, :len(own)] = [state for _, state, _ in own]
            amounts[rows, :len(own)] = np.stack([amount for _, _, amount in own], axis=1)
    return Doses.from_slots(times, states, amounts, amounts > 0)


def _scheduled(kinds: list[Treatment], groups: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Per drug anyone is scheduled, each patient's scheduled dose days, padded with NaN: ``[n, most doses]``."""
    table = {}
    for drug in DRUG_STATES:
        days = [[day for d in t.schedule if d.drug == drug for day in d.days] for t in kinds]
        width = max(map(len, days))
        if width:
            table[drug] = _spread(np.array([row + [np.nan] * (width - len(row)) for row in days]), groups, n)
    return table


def build_patients(patients: Mapping[str, np.ndarray], treatments: Treatment | Sequence[Treatment],
                   seeds: Sequence[int] | np.ndarray) -> Batch:
    """Manufacture the products of ``patients`` (a patient table: a population frame, or
    :func:`patient_table`) given ``treatments`` (one for all, or one per patient) and stack them into a
    batch; ``seeds`` are the patients' own."""
    table = patient_arrays(patients)
    seeds = np.asarray(seeds, dtype=np.uint64)
    n = len(seeds)
    kinds, groups = _distinct(treatments, n)
    per_kind = product_columns([t.product for t in kinds])
    product = {name: _spread(values, groups, n) for name, values in per_kind.items()}
    made = manufacture(product, table, seeds)
    params = _parameters(table, kinds, groups, made)
    doses = patient_doses(treatments, params, made)
    t0 = np.minimum(-made.vein_to_vein_days, doses.times[:, 0])  # the first dose, if any, is the first slot
    return Batch(initial_states(table, params), params, doses, seeds, t0, made, table["age_years"],
                 table["weight_kg"], _scheduled(kinds, groups, n), table["disease"].astype(np.int64))


def build_batch(scenarios: Sequence[Scenario], seeds: Sequence[int] | None = None) -> Batch:
    """Manufacture each scenario's product and stack the scenarios into one batch: their patient blocks are
    the patient table, each scenario its patient's treatment, and ``seeds`` default to their own."""
    seeds = [s.simulation.seed for s in scenarios] if seeds is None else seeds
    return build_patients(patient_table([s.patient for s in scenarios]), scenarios, seeds)
