"""The manufacturing stage before infusion: apheresis, transduction, expansion, release, vein-to-vein time.

For each patient of a batch, over arrays of patients (the patient table's columns and the product's
fields) and seeded by the patient's own seed (so a patient's product never depends on its batch):

1. **Apheresis** collects T cells in proportion to the blood T-cell count;
   culture is started from at most :attr:`Process.culture_seed_cells` of them.
2. **Transduction** makes a patient-variable share of them CAR+.
3. **Expansion** in culture multiplies them by a fold that grows with T-cell
   fitness, is higher after a BTK inhibitor (Fraietta 2016 Blood) and lower
   after many prior lines; a slow culture is kept up to a few days longer,
   which lengthens the vein-to-vein time and differentiates the cells.
4. **Release**: a yield at or above the target dose gives the target dose; a
   yield down to the product's release minimum (``minimum_dose_cells``, by
   default half the target: liso-cel's label range is 50-110e6 for 100e6,
   tisa-cel's 0.6-6e8) is still within specification and infused as made;
   below that an out-of-specification product is infused if it holds at least
   80% of the release minimum, and otherwise manufacturing has failed and the
   patient gets no CAR-T (nor lymphodepletion).
5. **Phenotype**: the memory-like share falls, and the senescent share rises,
   with poorer T-cell fitness, many prior lines and a longer culture; a product
   without a defined composition mirrors the patient's CD4:CD8.

Allogeneic off-the-shelf cells skip all of it: no apheresis, no wait, no
failure, cells with a healthy donor's fitness, and a GvHD risk. A product with
``manufacturing: false`` is infused exactly as specified after its nominal
vein-to-vein time.

The typical patient (T-cell fitness 1, four prior lines including a BTK
inhibitor) gets the product's nominal phenotype in the median.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping

import numpy as np

from .._seeds import hashed_normals, hashed_uniforms, mix_seeds

_STREAM = 0x4D4146  # "MAF": independent of every other stream drawn from a patient's seed
_TRANSDUCTION, _EXPANSION, _TIMING, _GVHD = range(4)


@dataclass(frozen=True)
class Process:
    """Constants of the manufacturing process. [A] marks an assumption, [R] a recalled figure."""

    processed_blood_l: float = 10.0  # L; [A] a leukapheresis processes about two blood volumes
    collection_efficiency: float = 0.5  # [A] share of the processed T cells collected
    culture_seed_cells: float = 1e8  # T cells; [A] cells put into culture after selection
    transduction_log_sd: float = 0.5  # [R] UK tisa-cel national scheme: median 17%, IQR 12-23% (Ghorashian 2024)
    #: Median fold expansion of the typical patient's cells, and the smallest share of the release
    #: minimum infused as an out-of-specification product: calibrated together so that the default population
    #: (R/R CLL after BTKi and venetoclax) fails manufacture of liso-cel in 4% (TRANSCEND CLL 004: 96%
    #: success, Siddiqi 2023) and gets an out-of-specification product in 1.7% (UK multicentre review:
    #: 19 of 1,138 patients). Command: benchmarks/manufacturing_calibration.py.
    fold_expansion: float = 12.35
    fold_log_sd: float = 0.8  # [A] patient-to-patient spread of culture growth
    #: [A] culture growth proportional to T-cell fitness (CLL T-cell dysfunction: Testa 2024 Mediterr J Hematol
    #: Infect Dis)
    fitness_exponent: float = 1.0
    btki_gain: float = 1.5  # [A] size; direction from Fraietta 2016 Blood (ibrutinib >= 5 cycles helps)
    per_prior_line: float = 0.9  # [A] each prior line beyond the typical four costs 10% of growth
    doubling_days: float = 1.5  # days; [A] doubling time late in culture
    max_extra_culture_days: float = 3.0  # days; [A] how long a slow culture may be extended
    default_minimum_share: float = 0.5  # [A] release minimum of a product that names none, share of its target
    out_of_specification_share: float = 0.809  # of the release minimum; calibrated with fold_expansion (see there)
    vein_to_vein_log_sd: float = 0.2  # [A] spread of logistics and release testing
    memory_fitness_exponent: float = 0.25  # [A] Fraietta 2018: memory-like cells track pre-manufacture fitness
    memory_loss_per_extra_day: float = 0.1  # [A] longer culture differentiates the product
    senescence_fitness_exponent: float = 0.5  # [A]
    senescence_per_prior_line: float = 1.05  # [A]
    max_senescent_fraction: float = 0.6  # [A]
    typical_prior_lines: int = 4  # TRANSCEND CLL 004 median (the reference patient)
    donor_fitness: float = 1.0  # healthy-donor T cells of an allogeneic product (no CLL dysfunction, Testa 2024)


PROCESS = Process()


@dataclass(frozen=True)
class Manufactured:
    """One patient's infused product, or the failure to make it."""

    failed: bool
    out_of_specification: bool
    vein_to_vein_days: float
    dose_cells: float  # CAR+ cells infused (0 when failed)
    cd4_fraction: float
    memory_fraction: float
    senescent_fraction: float
    car_t_fitness: float  # the T-cell fitness of the infused cells (the patient's, or the donor's)
    gvhd: bool

    def summary(self) -> dict:
        """The single-patient summary keys of the product."""
        return {key: getattr(self, name) for key, name in _SUMMARY.items()}


#: Summary key -> field of :class:`Manufactured` (and of :class:`Products`).
_SUMMARY = {"manufacturing_failed": "failed", "product_out_of_specification": "out_of_specification",
            "vein_to_vein_days": "vein_to_vein_days", "product_dose_cells": "dose_cells",
            "product_cd4_fraction": "cd4_fraction", "product_memory_fraction": "memory_fraction",
            "product_senescent_fraction": "senescent_fraction", "gvhd": "gvhd"}
#: Columns a trial writes per patient (the summary keys).
PRODUCT_COLUMNS = tuple(_SUMMARY)


@dataclass(frozen=True)
class Products:
    """The infused products of a batch of patients: each field of :class:`Manufactured` as an array over
    patients. Indexing a patient gives its :class:`Manufactured`."""

    failed: np.ndarray
    out_of_specification: np.ndarray
    vein_to_vein_days: np.ndarray
    dose_cells: np.ndarray
    cd4_fraction: np.ndarray
    memory_fraction: np.ndarray
    senescent_fraction: np.ndarray
    car_t_fitness: np.ndarray
    gvhd: np.ndarray

    def __len__(self) -> int:
        return len(self.failed)

    def __getitem__(self, i: int) -> Manufactured:
        return Manufactured(*(_TYPES[f.name](getattr(self, f.name)[i]) for f in fields(self)))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def take(self, rows) -> Products:
        """The products of the patients ``rows`` (indices or a mask)."""
        return Products(*(getattr(self, f.name)[rows] for f in fields(self)))

    def summary(self) -> dict[str, np.ndarray]:
        """The summary keys of :meth:`Manufactured.summary`, each an array over patients."""
        return {key: getattr(self, name) for key, name in _SUMMARY.items()}

    @property
    def infused(self) -> np.ndarray:
        """Whether each patient got CAR-T cells."""
        return ~self.failed & (self.dose_cells > 0)


_TYPES = {f.name: bool if f.type == "bool" else float for f in fields(Manufactured)}


def target_dose(product: Mapping[str, np.ndarray], weight_kg: np.ndarray) -> np.ndarray:
    """The dose each product aims at: flat, or weight-based (``dose_cells_per_kg`` not NaN) and capped by
    ``dose_cells``."""
    per_kg = product["dose_cells_per_kg"]
    return np.where(np.isnan(per_kg), product["dose_cells"], np.minimum(per_kg * weight_kg, product["dose_cells"]))


def manufacture(product: Mapping[str, np.ndarray], patients: Mapping[str, np.ndarray], seeds: np.ndarray,
                process: Process = PROCESS) -> Products:
    """Each patient's infused product, drawn from its ``seeds``.

    ``product`` maps the fields of the scenario's product to arrays over patients (an optional field left
    out is NaN; ``source`` holds strings); ``patients`` maps the patient table's columns (``tcell_fitness``,
    ``prior_lines``, ``prior_btki``, ``weight_kg``, ``cd4_fraction``, ``t_cells_per_ul``) to arrays.
    """
    column = lambda name: np.asarray(patients[name], dtype=np.float64)  # noqa: E731
    keys = mix_seeds(np.asarray(seeds, dtype=np.uint64), _STREAM)
    fitness = column("tcell_fitness")
    lines = column("prior_lines")
    btki = column("prior_btki")
    target = target_dose(product, column("weight_kg"))
    nominal_days = product["vein_to_vein_days"]
    memory0 = product["memory_fraction"]
    senescent0 = product["senescent_fraction"]
    simulated = product["manufacturing"] & (product["source"] == "autologous")
    allogeneic = product["source"] == "allogeneic"
    cd4 = np.where(np.isnan(product["cd4_fraction"]), column("cd4_fraction"), product["cd4_fraction"])

    collected = column("t_cells_per_ul") * 1e6 * process.processed_blood_l * process.collection_efficiency
    transduction = np.minimum(product["transduction_efficiency"]
                              * np.exp(process.transduction_log_sd * hashed_normals(keys, _TRANSDUCTION)), 0.9)
    history = (process.per_prior_line ** (lines - process.typical_prior_lines)
               * np.where(btki > 0, 1.0, 1.0 / process.btki_gain))
    fold = (process.fold_expansion * fitness ** process.fitness_exponent * history
            * np.exp(process.fold_log_sd * hashed_normals(keys, _EXPANSION)))
    first_yield = np.minimum(collected, process.culture_seed_cells) * transduction * fold
    extra_days = np.clip(np.log2(np.maximum(target, 1.0) / np.maximum(first_yield, 1.0)) * process.doubling_days,
                         0.0, process.max_extra_culture_days)
    made = first_yield * 2.0 ** (extra_days / process.doubling_days)
    minimum_dose = product["minimum_dose_cells"]
    minimum = np.minimum(np.where(np.isnan(minimum_dose), process.default_minimum_share,
                                  minimum_dose / np.maximum(target, 1.0)), 1.0) * target
    failed = simulated & (made < process.out_of_specification_share * minimum)
    out_of_spec = simulated & ~failed & (made < minimum)
    dose = np.where(simulated, np.where(failed, 0.0, np.minimum(made, target)), target)

    memory = np.where(simulated, memory0 * fitness ** process.memory_fitness_exponent
                      * np.exp(-process.memory_loss_per_extra_day * extra_days), memory0)
    senescent = np.where(simulated, np.minimum(
        senescent0 * fitness ** -process.senescence_fitness_exponent
        * process.senescence_per_prior_line ** (lines - process.typical_prior_lines),
        process.max_senescent_fraction), senescent0)
    days = np.where(simulated, np.round(nominal_days * np.exp(process.vein_to_vein_log_sd
                                                              * hashed_normals(keys, _TIMING)) + extra_days),
                    np.where(allogeneic, 0.0, nominal_days))
    gvhd = hashed_uniforms(keys, _GVHD) < product["gvhd_risk"]
    car_t_fitness = np.where(allogeneic, process.donor_fitness, fitness)
    # Memory-like and senescent cells are shares of one product: what culture leaves memory-like is not senescent.
    memory = np.clip(memory, 0.0, 1.0 - senescent)
    return Products(failed, out_of_spec, days, dose, cd4, memory, senescent, car_t_fitness, gvhd)
