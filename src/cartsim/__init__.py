"""cartsim: mechanistic in-silico CAR-T therapy for chronic lymphocytic leukemia.

>>> import cartsim
>>> result = cartsim.simulate("scenarios/responder.yaml")   # doctest: +SKIP
>>> result.summary["car_t_peak_day"]                         # doctest: +SKIP

The public names (:data:`__all__`) are loaded on first use, so ``import cartsim`` and ``cartsim --help``
stay quick: the engine, pandas, the plotting and the web app are imported only by what needs them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from . import _compiled_cache  # noqa: F401  (must run before any compiled module is imported)

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads these on first use
    from ._simulate import SimulationError, SimulationResult, simulate
    from .calibration import CalibrationError
    from .interop import export_sbml
    from .io import Scenario, ScenarioError, load_scenario, write_outputs
    from .model import DRUG_TABLE, OBSERVABLE_TABLE, PARAMETER_TABLE, STATE_TABLE
    from .patient import POPULATIONS, sample_population
    from .patient import load_parameter_set
    from .trial import Trial, TrialError, load_trial, run_trial, write_trial_outputs

__version__ = "0.1.0"

#: Each lazily loaded public name and the module that defines it.
_LAZY = {
    "simulate": "._simulate", "SimulationResult": "._simulate", "SimulationError": "._simulate",
    "Scenario": ".io", "ScenarioError": ".io", "load_scenario": ".io", "write_outputs": ".io",
    "Trial": ".trial", "TrialError": ".trial", "load_trial": ".trial", "run_trial": ".trial",
    "write_trial_outputs": ".trial",
    "CalibrationError": ".calibration",
    "export_sbml": ".interop",
    "STATE_TABLE": ".model", "PARAMETER_TABLE": ".model", "DRUG_TABLE": ".model", "OBSERVABLE_TABLE": ".model",
    "POPULATIONS": ".patient", "sample_population": ".patient",
    "load_parameter_set": ".patient",
}

__all__ = sorted([*_LAZY, "simulate_batch", "validate", "__version__"])


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'cartsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def simulate_batch(scenarios: Sequence[Scenario | str | Path], record_days=None):
    """Simulate many patients at once (scenarios or YAML paths sharing protocol, visits and follow-up).

    Returns the :class:`cartsim.clinical.ClinicalOutcome`: ``endpoints`` maps each endpoint to an array over
    the patients, ``status`` holds each patient's solver result; with ``record_days`` (days after infusion),
    ``record.states[patient, day, state]`` holds the states on those days.
    """
    from ._batch import build_batch
    from .clinical import Care, run_clinical
    from .io import Scenario, load_scenario

    scenarios = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    return run_clinical(build_batch(scenarios), Care.of(scenarios), record_days=record_days)


def validate(targets: str | Path | None = None, *, parameters: str | Path | None = None,
             patients: int | None = None, progress: Callable[[str], None] | None = None, blind: bool = False):
    """The validation table (a pandas DataFrame, one row per published target) of ``cartsim validate``.

    ``targets``: a targets YAML (default: the vendored copy); ``parameters``: a parameter-set file of
    ``cartsim calibrate`` (default: the shipped one); ``patients`` per cohort arm (default: each cohort's);
    ``progress(cohort name)`` is called as each virtual cohort finishes. ``blind``: compare the blind targets
    instead (``targets`` then names a blind targets file, default the vendored blind.yaml), which are never fitted.
    """
    from .calibration import compare, load_blind_targets, load_targets
    from .patient import load_parameter_set, populations_of

    populations = None if parameters is None else populations_of(load_parameter_set(parameters))
    loaded = load_blind_targets(targets) if blind else load_targets(targets)
    return compare(loaded, populations, patients=patients, progress=progress)
