"""Why CAR-T work less well in CLL than in B-ALL and large B-cell lymphoma: the CR-rate gap taken apart.

Testa 2024 (Mediterr J Hematol Infect Dis) lists the candidate reasons: the patients' T-cell dysfunction, the
product's phenotype, the lymph-node microenvironment, tumour burden, antigen density. cartsim's three diseases
share one in-vivo model, so each reason is a group of patient characteristics (:data:`FACTORS`), and the gap can
be decomposed by counterfactual swaps: patient ``i`` of the CLL population is given, for every subset of the
factor groups, the values of patient ``i`` of the other disease's population (the same index, so the same
random numbers: the CLL patient keeps its own simulation seed). Every subset is simulated with the same product,
dose and care; the CR rate of each subset is a coalition value, and the exact Shapley value of each factor (the
average of its marginal effect over all orders in which the factors could be swapped) attributes the whole gap,
CR(other disease's characteristics) - CR(CLL), to the factors: the attributions sum to it exactly.

Intervals are percentile intervals over bootstrap resamples of the virtual patients (the same resample for every
coalition), i.e. virtual-patient sampling only; parameter uncertainty enters once the calibration issue's
posterior exists. The interventions (ibrutinib before apheresis, a memory-rich product, a CD28 construct, a higher
dose, an OR-gate CAR) are run on the CLL patients, each reported as the share of each gap it closes.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial
from typing import Callable

import numpy as np
import pandas as pd

from .._batch import build_patients
from ..clinical import CR, CRI, Care, run_clinical
from ..io import ClinicalSettings, Treatment
from ..patient import B_ALL_POPULATION, DEFAULT_POPULATION, LBCL_POPULATION, POPULATIONS, sample_population
from ..solver import SolverOptions
from ..stats import wilson_interval

#: Factor group -> the population-frame columns it swaps. The site split and the burden are swapped as shares and
#: total (see :func:`counterfactual`); age goes with the T cells (it sets their fitness in the copula and nothing
#: else within three months), the disease code sets the response criteria.
FACTORS: dict[str, tuple[str, ...]] = {
    "T-cell fitness": ("tcell_fitness", "cd4_fraction", "age_years", "weight_kg"),
    "product phenotype": ("prior_lines", "prior_btki", "prior_venetoclax"),
    "sites and node protection": ("site_shares", "node_access"),
    "burden": ("burden",),
    "growth": ("tumor_growth_factor",),
    "antigen density": ("antigen_density", "antigen_negative_fraction"),
    "microenvironment": ("killing_factor", "cytokine_propensity", "normal_b_cells"),
    "response criteria": ("disease",),
}
_SITES = ("tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells")
#: The product every patient gets: tisagenlecleucel at the median CTL019 dose of Porter 2015 (the same in each
#: disease, so that the product is not a difference between them).
PRODUCT = {"preset": "tisa-cel", "dose_cells": 1.6e8}
#: The other diseases, by their populations.
COMPARISONS = {"B-ALL": B_ALL_POPULATION, "LBCL": LBCL_POPULATION}
#: Interventions on the CLL patients: name -> treatment changes.
INTERVENTIONS: dict[str, dict] = {
    "none (tisa-cel 1.6e8)": {},
    # Fraietta 2016 Blood / Gauthier 2020 Blood: ibrutinib from before leukapheresis (day -21) through the expansion.
    "ibrutinib before apheresis": {"schedule": ({"drug": "ibrutinib", "day": -35.0, "dose": 420.0, "every_days": 1.0,
                                                 "until_day": 60.0},)},
    "memory-rich product": {"product": {"memory_fraction": 0.6, "senescent_fraction": 0.02}},
    "CD28 construct": {"product": {"costimulation": "CD28"}},
    "dose 6e8": {"product": {"dose_cells": 6e8}},
    "OR-gate CD19/ROR1 CAR": {"product": {"target": "CD19/ROR1"}},
}
#: Patients per batch handed to the engine (a chunk; results do not depend on it).
_CHUNK = 1024


def counterfactual(cll: pd.DataFrame, other: pd.DataFrame, swapped: tuple[str, ...]) -> pd.DataFrame:
    """The CLL patients with the factor groups ``swapped`` taken from the same-index patients of ``other``."""
    out = cll.copy()
    for factor in swapped:
        for column in FACTORS[factor]:
            if column not in ("site_shares", "burden"):
                out[column] = other[column].to_numpy()
    source_shares = other if "sites and node protection" in swapped else cll
    source_total = other if "burden" in swapped else cll
    total = source_total[list(_SITES)].sum(axis=1).to_numpy()
    shares = source_shares[list(_SITES)].to_numpy() / source_shares[list(_SITES)].sum(axis=1).to_numpy()[:, None]
    out[list(_SITES)] = shares * total[:, None]
    return out


def _complete(endpoints: dict[str, np.ndarray]) -> np.ndarray:
    return np.isin(endpoints["best_response"], (CR, CRI))


def _simulate(patients: pd.DataFrame, treatment: Treatment, care: Care, progress: Callable[[int], None] | None
              ) -> np.ndarray:
    """Whether each patient reaches CR/CRi under its disease's criteria (intention to treat), in chunks."""
    done = []
    for first in range(0, len(patients), _CHUNK):
        chunk = patients.iloc[first:first + _CHUNK]
        batch = build_patients(chunk, treatment, chunk["seed"].to_numpy(np.uint64))
        done.append(_complete(run_clinical(batch, care).endpoints))
        if progress is not None:
            progress(len(chunk))
    return np.concatenate(done)


def shapley(values: np.ndarray, n_factors: int) -> np.ndarray:
    """Exact Shapley values ``[..., factor]`` of coalition values ``values[..., mask]`` (bit ``j`` of ``mask`` set:
    factor ``j`` swapped; ``2**n_factors`` coalitions): they sum to ``values[..., full] - values[..., 0]``."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != 1 << n_factors:
        raise ValueError(f"need {1 << n_factors} coalition values for {n_factors} factors, got {values.shape[-1]}")
    out = np.zeros(values.shape[:-1] + (n_factors,))
    for j in range(n_factors):
        bit = 1 << j
        for mask in range(1 << n_factors):
            if mask & bit:
                continue
            size = bin(mask).count("1")
            weight = factorial(size) * factorial(n_factors - size - 1) / factorial(n_factors)
            out[..., j] += weight * (values[..., mask | bit] - values[..., mask])
    return out


def _coalitions(n_factors: int) -> list[tuple[int, ...]]:
    """Every subset of the factor indices, listed so that position ``mask`` holds the subset of its set bits."""
    subsets = [c for size in range(n_factors + 1) for c in combinations(range(n_factors), size)]
    return sorted(subsets, key=lambda c: sum(1 << j for j in c))


def run_efficacy_gap(n: int = 30, seed: int = 0, days: int = 90, bootstrap: int = 400,
                     intervention_patients: int = 200, comparisons: tuple[str, ...] = tuple(COMPARISONS),
                     cll_population: str = DEFAULT_POPULATION,
                     progress: Callable[[int], None] | None = None) -> dict[str, pd.DataFrame]:
    """The gap decomposition (``attribution``: one row per comparison and factor, the gap and its Shapley share
    with bootstrap intervals), the coalition CR rates (``coalitions``) and the interventions on the CLL patients
    (``interventions``: CR rate with Wilson intervals and the share of each gap closed)."""
    if n < 1 or intervention_patients < 1 or bootstrap < 1:
        raise ValueError("n, intervention_patients and bootstrap must be >= 1")
    unknown = sorted(set(comparisons) - set(COMPARISONS))
    if unknown:
        raise ValueError(f"unknown comparison {unknown[0]!r}; diseases compared with CLL: {', '.join(COMPARISONS)}")
    if POPULATIONS[cll_population].disease != "CLL":
        raise ValueError(f"cll_population must be a CLL population; {cll_population!r} is "
                         f"{POPULATIONS[cll_population].disease}")
    names = list(FACTORS)
    treatment = Treatment.validated({"product": PRODUCT})
    care = Care(treatment.protocol, ClinicalSettings(), float(days), SolverOptions())
    cll = sample_population(cll_population, n, seed)
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, n, size=(bootstrap, n))
    attribution, coalition_rows, gaps = [], [], {}
    for disease in comparisons:
        other = sample_population(COMPARISONS[disease], n, seed)
        subsets = _coalitions(len(names))
        frames = [counterfactual(cll, other, tuple(names[j] for j in subset)) for subset in subsets]
        hits = _simulate(pd.concat(frames, ignore_index=True), treatment, care, progress).reshape(len(subsets), n)
        values = hits.mean(axis=1)
        boot_values = hits[:, resamples].mean(axis=2).T  # [resample, coalition]
        phi, boot_phi = shapley(values, len(names)), shapley(boot_values, len(names))
        gap, boot_gap = values[-1] - values[0], boot_values[:, -1] - boot_values[:, 0]
        gaps[disease] = gap
        attribution.append({"comparison": f"CLL vs {disease}", "factor": "whole gap", "cr_points": gap,
                            "low": np.quantile(boot_gap, 0.025), "high": np.quantile(boot_gap, 0.975),
                            "cr_cll": values[0], "cr_other": values[-1]})
        for j, factor in enumerate(names):
            attribution.append({"comparison": f"CLL vs {disease}", "factor": factor, "cr_points": phi[j],
                                "low": np.quantile(boot_phi[:, j], 0.025), "high": np.quantile(boot_phi[:, j], 0.975),
                                "cr_cll": values[0], "cr_other": values[-1]})
        coalition_rows += [{"comparison": f"CLL vs {disease}", "swapped": " + ".join(names[j] for j in s) or "none",
                            "cr_rate": v} for s, v in zip(subsets, values)]
    interventions = _interventions(intervention_patients, seed, cll_population, care, gaps, progress)
    return {"attribution": pd.DataFrame(attribution), "coalitions": pd.DataFrame(coalition_rows),
            "interventions": interventions}


def _interventions(n: int, seed: int, cll_population: str, care: Care, gaps: dict[str, float],
                   progress: Callable[[int], None] | None) -> pd.DataFrame:
    """Each intervention's CR rate in the CLL patients and the share of each gap it closes."""
    patients = sample_population(cll_population, n, seed)
    rows = []
    for name, change in INTERVENTIONS.items():
        treatment = Treatment.validated({**change, "product": {**PRODUCT, **change.get("product", {})}})
        hits = _simulate(patients, treatment, care, progress)
        low, high = wilson_interval(int(hits.sum()), n)
        rows.append({"intervention": name, "cr_rate": hits.mean(), "low": low, "high": high})
    frame = pd.DataFrame(rows)
    base = frame["cr_rate"].iloc[0]
    for disease, gap in gaps.items():
        frame[f"share_of_{disease}_gap_closed"] = (frame["cr_rate"] - base) / gap if gap else np.nan
    return frame


def simulated_patients(n: int, intervention_patients: int, comparisons) -> int:
    """How many virtual patients a run simulates (for a progress bar)."""
    return len(comparisons) * n * (1 << len(FACTORS)) + intervention_patients * len(INTERVENTIONS)


#: The study's title and what its table shows (the markdown section and the HTML report say the same).
TITLE = "Why CAR-T work less well in CLL: the CR-rate gap taken apart"
DESCRIPTION = ("Counterfactual swaps of factor groups between the CLL and the other disease's virtual patients (same "
               "product, dose and care); exact Shapley attribution in CR percentage points, summing to the gap; 95% "
               "bootstrap intervals over the virtual patients.")


def conclusions(results: dict[str, pd.DataFrame]) -> dict:
    """What the study says: per comparison the CR rates, the gap and the factor with the largest Shapley share (the
    model's main reason), and the intervention that closes most of the gaps (the highest CR rate in the CLL
    patients; its share of each gap closed)."""
    attribution, interventions = results["attribution"], results["interventions"]
    comparisons = []
    for comparison, rows in attribution.groupby("comparison", sort=False):
        top = rows[rows["factor"] != "whole gap"].sort_values("cr_points", ascending=False).iloc[0]
        comparisons.append({"comparison": comparison, "cr_cll": float(rows["cr_cll"].iloc[0]),
                            "cr_other": float(rows["cr_other"].iloc[0]), "gap": float(rows["cr_points"].iloc[0]),
                            "main_reason": top["factor"], "main_reason_points": float(top["cr_points"])})
    best = interventions.iloc[1:].sort_values("cr_rate", ascending=False).iloc[0]
    closes_most = {key: (value.item() if hasattr(value, "item") else value) for key, value in best.items()}
    return {"comparisons": comparisons, "closes_most": closes_most}


ATTRIBUTION_HEADER = ("comparison", "factor", "CR points", "95% interval")


def attribution_rows(attribution: pd.DataFrame) -> list[tuple[str, ...]]:
    """The attribution as shown (:data:`ATTRIBUTION_HEADER`): CR percentage points with their 95% interval."""
    return [(row.comparison, row.factor, f"{100 * row.cr_points:+.1f}", f"{100 * row.low:+.1f} to {100 * row.high:+.1f}")
            for row in attribution.itertuples(index=False)]


def intervention_rows(interventions: pd.DataFrame) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The interventions as shown: header and rows (CR with its 95% interval, the share of each gap closed)."""
    gaps = [c for c in interventions.columns if c.startswith("share_of_")]
    header = ("intervention on the CLL patients", "CR (95% CI)",
              *(c.replace("share_of_", "share of ").replace("_gap_closed", " gap closed") for c in gaps))
    rows = [(row["intervention"], f"{100 * row['cr_rate']:.0f}% ({100 * row['low']:.0f}-{100 * row['high']:.0f}%)",
             *(f"{100 * row[c]:.0f}%" for c in gaps)) for row in interventions.to_dict("records")]
    return header, rows


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [f"| {' | '.join(header)} |", "|" + " --- |" * len(header), *(f"| {' | '.join(r)} |" for r in rows)]


def markdown_report(results: dict[str, pd.DataFrame]) -> str:
    """The report section: the attribution table, the interventions, and the model's main reason per disease."""
    found = conclusions(results)
    lines = [f"## {TITLE}", "", DESCRIPTION, "", *_markdown_table(ATTRIBUTION_HEADER,
                                                                   attribution_rows(results["attribution"]))]
    for sentence in main_reasons(found):
        lines += ["", sentence]
    lines += ["", *_markdown_table(*intervention_rows(results["interventions"])), "", closes_most(found)]
    return "\n".join(lines) + "\n"


def main_reasons(found: dict) -> list[str]:
    """One sentence per comparison of :func:`conclusions`: the CR rates and the model's main reason (markdown bold)."""
    return [f"{c['comparison']}: CR {100 * c['cr_cll']:.0f}% vs {100 * c['cr_other']:.0f}%; the main reason in the "
            f"model is **{c['main_reason']}** ({100 * c['main_reason_points']:+.1f} points of {100 * c['gap']:+.1f})."
            for c in found["comparisons"]]


def closes_most(found: dict) -> str:
    """The sentence naming the intervention of :func:`conclusions` that closes most of the gap (markdown bold)."""
    best = found["closes_most"]
    return f"The intervention that closes most of the gap: **{best['intervention']}** (CR {100 * best['cr_rate']:.0f}%)."


#: Files of a study folder: the attribution table, the conclusions and the waterfall figure.
ATTRIBUTION, CONCLUSIONS, WATERFALL = "efficacy_gap.csv", "efficacy_gap.json", "efficacy_gap.png"


def write_efficacy_gap(results: dict[str, pd.DataFrame], out) -> None:
    """efficacy_gap.csv/.json/.md/.png, coalitions.csv and interventions.csv in ``out`` (``cartsim report`` shows
    them as the study's section)."""
    import json
    from pathlib import Path

    from ..report import plot_waterfall

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results["attribution"].to_csv(out / ATTRIBUTION, index=False)
    results["coalitions"].to_csv(out / "coalitions.csv", index=False)
    results["interventions"].to_csv(out / "interventions.csv", index=False)
    (out / CONCLUSIONS).write_text(json.dumps({"study": "efficacy-gap", "title": TITLE, "description": DESCRIPTION,
                                               **conclusions(results)}, indent=2) + "\n")
    (out / "efficacy_gap.md").write_text(markdown_report(results))
    plot_waterfall(results["attribution"], out / WATERFALL)
