"""`cartsim sensitivity`: Sobol indices (SALib) of clinical endpoints to patient characteristics and model parameters.

Each Saltelli sample is one virtual patient: the default scenario with the sampled characteristics
(T-cell fitness, tumour burden, cytokine propensity, CD4 share, antigen-negative fraction, product
memory share) and model parameters, the product infused as specified right after lymphodepletion
(manufacturing off and no wait, so the in-vivo model alone is analysed) and CRS left to its natural course (protocol none: with the
standard protocol grade >= 3 CRS all but disappears and its drivers cannot be seen). Endpoints:
complete response (CR/CRi), grade >= 3 CRS, log10 CAR-T peak and CAR-T persistence at the end of
follow-up (still detectable, >= 1e5 cells). Total-order indices (ST) say how much of an endpoint's
variance a factor explains with its interactions; first-order (S1) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .._batch import build_batch
from .._readouts import derived_readouts
from ..clinical import Care, run_clinical
from ..model import PARAMETERS
from ..patient import DEFAULT_POPULATION, POPULATIONS
from ..clinical import CR, CRI
from ..io import Scenario
from ._validate import DETECTABLE_CAR_T


@dataclass(frozen=True)
class Factor:
    name: str
    low: float
    high: float
    log: bool  # sampled uniformly in log10
    kind: str  # "patient", "product" or "parameter"


#: How far a model parameter is varied around its default: a factor of 3 either way ([A]), within its table
#: bounds; patient characteristics vary over the default population's 5-95% band.
PARAMETER_FOLD = 3.0
_BAND_Z = 1.6448536269514722  # the 95th percentile of the standard normal


def _patient(name: str, log: bool) -> Factor:
    marginal = getattr(POPULATIONS[DEFAULT_POPULATION], name)
    low, high = marginal.values(np.array([-_BAND_Z, _BAND_Z]))
    return Factor(name, float(low), float(high), log, "patient")


def _parameter(name: str, log: bool = True) -> Factor:
    p = PARAMETERS[name]
    return Factor(name, max(p.default / PARAMETER_FOLD, p.low), min(p.default * PARAMETER_FOLD, p.high), log,
                  "parameter")


#: Factors and ranges, from the population and parameter tables (the product's memory-like share over the
#: range typical of manufactured products, [A]).
FACTORS = (
    _patient("tcell_fitness", True),
    _patient("tumor_cells", True),
    _patient("cytokine_propensity", True),
    _patient("cd4_fraction", False),
    _patient("antigen_negative_fraction", True),
    Factor("memory_fraction", 0.1, 0.6, False, "product"),
    _parameter("max_kill_rate"),
    _parameter("proliferation_cd8"),
    _parameter("senescence_rate"),
    _parameter("antigen_half_saturation"),
    _parameter("memory_renewal"),
    _parameter("access_node", log=False),
)
ENDPOINTS = ("complete_response", "crs_grade3plus", "log10_car_t_peak", "persistence")


def _scenario(sample: dict[str, float], days: int, seed: int) -> Scenario:
    burden = sample["tumor_cells"]
    parameters = {f.name: sample[f.name] for f in FACTORS if f.kind == "parameter"}
    return Scenario.model_validate({
        "patient": {"tumor": {"blood_cells": 2 / 9 * burden, "marrow_cells": 3 / 9 * burden,
                              "node_cells": 4 / 9 * burden,
                              "antigen_negative_fraction": sample["antigen_negative_fraction"]},
                    "tcell_fitness": sample["tcell_fitness"], "cytokine_propensity": sample["cytokine_propensity"]},
        "product": {"manufacturing": False, "vein_to_vein_days": 0.0, "cd4_fraction": sample["cd4_fraction"],
                    "memory_fraction": sample["memory_fraction"]},
        "protocol": "none", "parameters": parameters,
        "simulation": {"days": days, "seed": seed}})


def problem() -> dict:
    """The SALib problem (bounds in log10 for log-sampled factors)."""
    return {"num_vars": len(FACTORS), "names": [f.name for f in FACTORS],
            "bounds": [[np.log10(f.low), np.log10(f.high)] if f.log else [f.low, f.high] for f in FACTORS]}


def run_sensitivity(n_base: int = 64, days: int = 3650, seed: int = 0, chunk: int = 200,
                    progress: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sobol indices of :data:`ENDPOINTS`; returns (indices, the simulated samples)."""
    from SALib.analyze import sobol
    from SALib.sample import sobol as saltelli

    spec = problem()
    x = saltelli.sample(spec, n_base, calc_second_order=False, seed=seed)
    values = np.where([f.log for f in FACTORS], 10.0 ** x, x)
    samples = pd.DataFrame(values, columns=spec["names"])
    rows = []
    for start in range(0, len(samples), chunk):
        part = samples.iloc[start:start + chunk]
        scenarios = [_scenario(row, days, seed + start + i) for i, row in enumerate(part.to_dict("records"))]
        outcome = run_clinical(build_batch(scenarios), Care.of(scenarios), record_days=np.array([float(days)]))
        e = outcome.endpoints
        final_car_t = derived_readouts(outcome.record.states[:, -1])["car_t_total"]
        rows.append(pd.DataFrame({
            "complete_response": np.isin(e["best_response"], (CR, CRI)).astype(float),
            "crs_grade3plus": (e["crs_max_grade"] >= 3).astype(float),
            "log10_car_t_peak": np.log10(np.maximum(e["car_t_peak_cells"], 1.0)),
            "persistence": (final_car_t >= DETECTABLE_CAR_T).astype(float),
        }, index=part.index))
        if progress:
            progress(len(part))
    samples = pd.concat([samples, pd.concat(rows)], axis=1)
    indices = []
    for endpoint in ENDPOINTS:
        y = samples[endpoint].to_numpy()
        if np.std(y) == 0:  # a constant endpoint has no variance to apportion
            continue
        result = sobol.analyze(spec, y, calc_second_order=False, seed=seed)
        for k, name in enumerate(spec["names"]):
            indices.append({"endpoint": endpoint, "factor": name, "S1": result["S1"][k],
                            "S1_conf": result["S1_conf"][k], "ST": result["ST"][k], "ST_conf": result["ST_conf"][k],
                            "endpoint_mean": float(np.mean(y))})
    return pd.DataFrame(indices), samples


def plot_sensitivity(indices: pd.DataFrame, path: Path) -> Path:
    """Total- and first-order indices per endpoint, factors sorted by total order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    endpoints = list(dict.fromkeys(indices["endpoint"]))
    fig, axes = plt.subplots(1, len(endpoints), figsize=(4 * len(endpoints), 4.5), squeeze=False)
    for ax, endpoint in zip(axes[0], endpoints):
        rows = indices[indices["endpoint"] == endpoint].sort_values("ST")
        y = np.arange(len(rows))
        ax.barh(y + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], label="total (ST)", color="tab:blue")
        ax.barh(y - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], label="first order (S1)", color="tab:orange")
        ax.set_yticks(y, rows["factor"], fontsize=8)
        ax.set_title(f"{endpoint} (mean {rows['endpoint_mean'].iloc[0]:.2g})", fontsize=10)
        ax.set_xlim(left=0)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Sobol sensitivity (SALib), one virtual patient per sample")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
