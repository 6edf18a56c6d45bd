"""Virtual patient populations: correlated characteristics of R/R CLL patients, one seed fixing every patient.

A population is a set of documented marginal distributions (one per
characteristic) tied together by a Gaussian copula: every patient draws one
standard normal per *latent* characteristic (:data:`LATENT`), the normals are
correlated by the Cholesky factor of the population's correlation matrix, and
each correlated normal is mapped to its characteristic (a log-normal for a
cell count, a threshold for a prior exposure, an inverse CDF for a count of
prior lines).

Reproducibility and chunking
----------------------------
Patient ``i`` of a population sampled with ``seed`` is a function of
``(population, seed, i)`` alone. Its normals come from counter-based hashing
(SplitMix64, :func:`cartsim._seeds.mix_seeds`) of the seed, the
patient index and the latent index, never from a sequential generator, and the
copula is applied with element-wise operations in a fixed order, so
``sample_population(name, 10, s, start=5)`` equals rows 5..14 of
``sample_population(name, 20, s)`` bit for bit, whatever the chunk size or
worker (the integer hashing is exact everywhere; the float transforms may
differ in the last bit between CPUs with other SIMD paths for exp/log).
The patient's simulation seed is another hash of
``(seed, i)``, so a patient is the same person (same seed, same stochastic
fate) in every arm of a trial.

The T-cell characteristics come last in the latent order and
``healthy_t_cells`` changes only them, so its patient ``i`` is patient ``i``
of the default population (same age, disease, history and seed) with
healthy-donor T cells: a matched contrast for Testa 2024 Mediterr J Hematol
Infect Dis (CLL does worse than ALL/lymphoma because of CLL-related T-cell
dysfunction).

Sources: ``[A]`` marks an assumption; target ids refer to
``src/cartsim/calibration/targets.yaml``; papers are named by first author and year.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri
from scipy.stats import nbinom

from .._seeds import hashed_normals, mix_seeds
from .._diseases import DISEASE_NAMES
from ..model import PARAMETERS

#: The latent standard normals of a patient, in copula (Cholesky) order. Each names the
#: :class:`Population` field that maps it to a characteristic. The T-cell characteristics come
#: last: a preset that changes only their correlations leaves every other characteristic of a
#: patient unchanged (lower-triangular Cholesky rows depend only on earlier variables).
LATENT = (
    "prior_lines", "prior_btki", "prior_venetoclax", "age_years", "weight_kg",
    "tumor_cells", "blood_to_node", "marrow_to_node", "antigen_negative_fraction", "normal_b_cells",
    "cytokine_propensity", "tcell_fitness", "cd4_fraction",
    # The tumour's biology relative to CLL (a CLL preset holds each at 1 with no spread, so its patients are the
    # same as before these were added: latent rows after the last correlated one are independent normals).
    "tumor_growth_factor", "antigen_density", "node_access", "killing_factor",
)

#: Columns of :func:`sample_population`, in order.
COLUMNS = (
    "patient", "seed", "age_years", "weight_kg", "tumor_blood_cells", "tumor_marrow_cells", "tumor_node_cells",
    "antigen_negative_fraction", "normal_b_cells", "tcell_fitness", "cytokine_propensity", "cd4_fraction",
    "prior_lines", "prior_btki", "prior_venetoclax", "disease", "tumor_growth_factor", "antigen_density",
    "node_access", "killing_factor",
)

# Hash streams (arbitrary distinct constants): the whitened population seed, the per-patient key,
# and the two things drawn from that key. Changing any of them changes every sampled patient.
_SEED_STREAM = 0x504F50  # "POP"
_PATIENT_STREAM = 1
_SIMULATION_SEED_STREAM = 2
_LATENT_STREAM = 3
_SEED_LIMIT = 2 ** 64


# ---------------------------------------------------------------------------------------------
# Building blocks of a population
# ---------------------------------------------------------------------------------------------

_Scale = Literal["linear", "log", "logit"]


@dataclass(frozen=True)
class Marginal:
    """A continuous characteristic: ``median`` and ``spread`` on a ``scale``, clipped to ``[low, high]``.

    ``linear``: normal with mean ``median`` and sd ``spread`` (in ``units``);
    ``log``: log-normal, ``spread`` is the sd of ``ln(x)``;
    ``logit``: logit-normal fraction, ``spread`` is the sd of ``logit(x)``.
    ``low``/``high`` cut the tails where they would leave physiology or the scenario schema.
    """

    median: float
    spread: float
    scale: _Scale
    low: float
    high: float
    units: str
    source: str

    def __post_init__(self):
        if self.scale not in ("linear", "log", "logit"):
            raise ValueError(f"scale must be 'linear', 'log' or 'logit', got {self.scale!r}")
        if not self.low <= self.median <= self.high:
            raise ValueError(f"median {self.median:g} lies outside [low, high] = [{self.low:g}, {self.high:g}]")
        if self.spread < 0:
            raise ValueError(f"spread must be >= 0, got {self.spread:g}")
        if self.scale == "log" and self.median <= 0:
            raise ValueError(f"a log-normal median must be > 0, got {self.median:g}")
        if self.scale == "logit" and not 0 < self.median < 1:
            raise ValueError(f"a logit-normal median must lie in (0, 1), got {self.median:g}")

    def values(self, z: np.ndarray) -> np.ndarray:
        """The characteristic for standard normals ``z`` (monotone increasing in ``z``)."""
        if self.scale == "linear":
            x = self.median + self.spread * z
        elif self.scale == "log":
            x = np.exp(np.log(self.median) + self.spread * z)
        else:
            x = expit(logit(self.median) + self.spread * z)
        return np.clip(x, self.low, self.high)


@dataclass(frozen=True)
class Proportion:
    """A yes/no characteristic held by a fraction ``p`` of the population.

    A patient has it when its latent normal exceeds ``ndtri(1 - p)``, so a positive latent
    correlation means "more likely to have it".
    """

    p: float
    source: str

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ValueError(f"a proportion must lie in [0, 1], got {self.p:g}")

    def values(self, z: np.ndarray) -> np.ndarray:
        return z > ndtri(1.0 - self.p)


@dataclass(frozen=True)
class LineCount:
    """Prior lines of therapy: ``minimum`` plus a negative-binomial excess, capped at ``maximum``.

    The excess has mean ``extra_mean`` and dispersion ``extra_dispersion`` (variance
    ``mean + mean**2 / dispersion``); it is the inverse CDF of the patient's latent normal.
    """

    minimum: int
    extra_mean: float
    extra_dispersion: float
    maximum: int
    source: str

    def __post_init__(self):
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {self.minimum} and {self.maximum}")
        if self.extra_mean < 0 or self.extra_dispersion <= 0:
            raise ValueError("extra_mean must be >= 0 and extra_dispersion > 0")

    def values(self, z: np.ndarray) -> np.ndarray:
        # Inverse CDF by table look-up: exact, vectorised and the same for any batch.
        excess = np.arange(self.maximum - self.minimum + 1)
        if self.extra_mean == 0:
            cdf = np.ones(len(excess))
        else:
            n = self.extra_dispersion
            cdf = nbinom.cdf(excess, n, n / (n + self.extra_mean))
        cdf[-1] = 1.0  # the cap takes the whole tail
        return self.minimum + np.searchsorted(cdf, ndtr(z), side="left").astype(np.int64)


@dataclass(frozen=True)
class Correlation:
    """Correlation ``rho`` of the latent normals of two characteristics (names from :data:`LATENT`).

    The rank correlation of the sampled characteristics is close to ``rho`` for continuous
    ones and smaller for yes/no exposures and line counts, which coarsen their latent normal.
    """

    a: str
    b: str
    rho: float
    source: str

    def __post_init__(self):
        for name in (self.a, self.b):
            if name not in LATENT:
                raise ValueError(f"unknown latent characteristic {name!r}; known: {', '.join(LATENT)}")
        if self.a == self.b:
            raise ValueError(f"a correlation needs two different characteristics, got {self.a!r} twice")
        if not -1 < self.rho < 1:
            raise ValueError(f"rho must lie in (-1, 1), got {self.rho:g}")


@dataclass(frozen=True)
class Population:
    """A virtual patient population: marginals of every characteristic and their correlations.

    Field names after ``description`` are the latent characteristics (:data:`LATENT`).
    ``tumor_cells`` is the whole-body tumour burden; ``blood_to_node`` and ``marrow_to_node``
    split it over blood, marrow and lymph nodes/spleen/extranodal tissue (cells in blood or marrow per
    cell in nodes). ``disease`` names the disease (:mod:`cartsim._diseases`); the tumour-biology marginals
    (``tumor_growth_factor`` .. ``killing_factor``) are relative to CLL and default to CLL's
    (:data:`CLL_TUMOUR_BIOLOGY`). Every number carries its units and source.
    """

    name: str
    description: str
    prior_lines: LineCount
    prior_btki: Proportion
    prior_venetoclax: Proportion
    age_years: Marginal
    weight_kg: Marginal
    tumor_cells: Marginal
    blood_to_node: Marginal
    marrow_to_node: Marginal
    antigen_negative_fraction: Marginal
    normal_b_cells: Marginal
    cytokine_propensity: Marginal
    tcell_fitness: Marginal
    cd4_fraction: Marginal
    tumor_growth_factor: Marginal = field(default=None)  # type: ignore[assignment]  (None: CLL's, see __post_init__)
    antigen_density: Marginal = field(default=None)  # type: ignore[assignment]
    node_access: Marginal = field(default=None)  # type: ignore[assignment]
    killing_factor: Marginal = field(default=None)  # type: ignore[assignment]
    correlations: tuple[Correlation, ...] = field(default=())
    disease: str = "CLL"

    def __post_init__(self):
        if self.disease not in DISEASE_NAMES:
            raise ValueError(f"population {self.name!r}: unknown disease {self.disease!r}; diseases: "
                             f"{', '.join(DISEASE_NAMES)}")
        for name, marginal in CLL_TUMOUR_BIOLOGY.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, marginal)
        pairs = [frozenset((c.a, c.b)) for c in self.correlations]
        repeated = {tuple(sorted(p)) for p in pairs if pairs.count(p) > 1}
        if repeated:
            raise ValueError(f"population {self.name!r}: correlations given twice: {sorted(repeated)}")
        try:
            self.cholesky()
        except np.linalg.LinAlgError:
            raise ValueError(f"population {self.name!r}: the correlation matrix is not positive definite") from None

    def correlation_matrix(self) -> np.ndarray:
        """The latent correlation matrix ``[len(LATENT), len(LATENT)]`` (order of :data:`LATENT`)."""
        index = {name: k for k, name in enumerate(LATENT)}
        matrix = np.eye(len(LATENT))
        for c in self.correlations:
            matrix[index[c.a], index[c.b]] = matrix[index[c.b], index[c.a]] = c.rho
        return matrix

    def cholesky(self) -> np.ndarray:
        """Lower-triangular ``L`` with ``L @ L.T`` the correlation matrix."""
        return np.linalg.cholesky(self.correlation_matrix())


_NODE_ACCESS = PARAMETERS["access_node"].default
#: The tumour biology of CLL, the reference of the model's parameter table (so every value is 1, or the table's
#: default, with no spread): what a population leaves out is CLL's.
CLL_TUMOUR_BIOLOGY = {
    "tumor_growth_factor": Marginal(1.0, 0.0, "linear", 1.0, 1.0, "x the table's CLL proliferation rates",
                             "reference: the parameter table's CLL birth rates (Messmer 2005 JCI)"),
    "antigen_density": Marginal(1.0, 0.0, "linear", 1.0, 1.0, "CD19 per tumour cell, relative to CLL",
                                "reference: the access weights of the parameter table are CLL's"),
    "node_access": Marginal(_NODE_ACCESS, 0.0, "linear", _NODE_ACCESS, _NODE_ACCESS,
                            "CAR-T access to nodal tumour (0-1)",
                            "the parameter table's access_node: nodal CLL responds less than blood and marrow"),
    "killing_factor": Marginal(1.0, 0.0, "linear", 1.0, 1.0, "x the table's maximal kill rate",
                               "reference: the CLL microenvironment of the parameter table's kill rate"),
}

# ---------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------

_TRANSCEND_PH1 = "Siddiqi 2022 Blood (TRANSCEND CLL 004 phase 1, n=25)"
_TRANSCEND = "Siddiqi 2023 Lancet (TRANSCEND CLL 004, 117 treated)"
_NCI = "NCI, CAR T cells: engineering patients' immune cells to treat their cancers (cancer.gov)"
_HEALTHY_WHOLE_BODY_B = ("normal_bcell_blood (0.2e9/L) x blood_volume (5 L) / lymphocytes_blood_fraction (0.02) "
                         "= 5e10 whole-body normal B cells in a healthy adult")

#: Correlations of the R/R CLL presets (latent scale; see Correlation).
CLL_CORRELATIONS = (
    Correlation("prior_lines", "prior_btki", 0.3, "[A] each further line is another chance to have had a BTKi"),
    Correlation("prior_lines", "prior_venetoclax", 0.4,
                f"[A] venetoclax usually comes in a later line; {_TRANSCEND_PH1}: all BTKi-treated, "
                "65% also venetoclax"),
    Correlation("prior_btki", "prior_venetoclax", 0.3, "[A] BTKi then venetoclax is the usual sequence"),
    Correlation("prior_lines", "age_years", 0.25, "[A] more lines take more years of disease"),
    Correlation("prior_lines", "tumor_cells", 0.15, "[A] disease that failed more lines tends to be larger"),
    Correlation("prior_btki", "blood_to_node", -0.4,
                "cll_blood_alc_rr_trials: post-BTKi patients are often node-predominant with low blood counts; "
                f"{_TRANSCEND_PH1}: 91% nodal disease, 35% bulky (>5 cm) nodes"),
    Correlation("prior_btki", "marrow_to_node", -0.15, "[A] progression on a BTKi is mostly nodal"),
    Correlation("prior_lines", "antigen_negative_fraction", 0.15,
                "[A] more therapy selects more heterogeneous clones (heterogeneity, antigen loss: "
                f"{_NCI})"),
    Correlation("tumor_cells", "normal_b_cells", -0.3,
                "[A] marrow CLL suppresses normal B-cell production (model parameter b_cell_marrow_suppression)"),
    Correlation("prior_lines", "normal_b_cells", -0.2,
                "[A] anti-CD20 antibodies of earlier lines deplete normal B cells"),
    Correlation("tumor_cells", "cytokine_propensity", 0.3,
                "[A] CRS is more severe with higher disease burden (Teachey 2016 Cancer Discov; Hay 2017 Blood; "
                "recalled, verify); "
                "the model already scales cytokines with antigen, this is the host-side remainder"),
    Correlation("prior_lines", "tcell_fitness", -0.35,
                "Fraietta 2016 Blood: a T-cell defect due to CLL and/or therapy impairs CAR-T expansion; "
                "[A] heavy pretreatment hurts"),
    Correlation("prior_btki", "tcell_fitness", 0.2,
                "Fraietta 2016 Blood: >=5 cycles of ibrutinib improved CTL019 expansion (less PD-1 on T cells)"),
    Correlation("age_years", "tcell_fitness", -0.15, "[A] immunosenescence: fewer naive and memory T cells with age"),
    Correlation("prior_lines", "cd4_fraction", -0.2,
                "[A] purine analogues and bendamustine leave a lasting CD4 lymphopenia; CD4:CD8 already inverted "
                "in 39.7% of CLL at diagnosis (Gonzalez-Rodriguez 2010 Leuk Lymphoma, n=256)"),
)

RR_CLL_POST_BTKI_VENETOCLAX = Population(
    name="rr_cll_post_btki_venetoclax",
    description=("Relapsed/refractory CLL after a BTK inhibitor and (mostly) venetoclax, as in TRANSCEND CLL 004: "
                 "median 4 prior lines, older, node-predominant, CLL-related T-cell dysfunction."),
    prior_lines=LineCount(2, 2.5, 2.5, 15,
                          f"{_TRANSCEND_PH1}: median 4 lines (range 2-11); {_TRANSCEND}: median 5 (2-12); "
                          ">=2 lines required. Gives median 4, 5-95% 2-9, 99% 12 lines"),
    prior_btki=Proportion(0.95, f"{_TRANSCEND_PH1}: 100% prior ibrutinib (required); [A] 5% BTKi-naive as in "
                                "earlier CAR-T trials (Porter 2015)"),
    prior_venetoclax=Proportion(0.7, f"[A] {_TRANSCEND_PH1}: 65% had BTKi and venetoclax; TRANSCEND CLL 004 "
                                     "update (ASH 2023): 54 of 97 efficacy-evaluable had venetoclax failure"),
    age_years=Marginal(66.0, 8.0, "linear", 35.0, 90.0, "years", f"{_TRANSCEND_PH1}: median 66; sd and clip [A]"),
    weight_kg=Marginal(78.0, 0.18, "log", 40.0, 160.0, "kg", "[A] adults of a Western trial population"),
    tumor_cells=Marginal(5e11, 1.0, "log", 1e10, 1e13, "cells, whole body",
                         "cll_tumor_burden: 1e11-3e12 typical taken as the 5-95% band (geometric middle 5.5e11); "
                         "clip [A] (1e13 cells ~ 10 kg)"),
    blood_to_node=Marginal(0.3, 0.9, "log", 0.005, 20.0, "blood CLL cells per node/spleen CLL cell",
                           "cll_blood_alc_rr_trials (ALC 5e9-1e11/L, many post-BTKi patients node-predominant): "
                           "gives "
                           "blood CLL cells / 5 L of median 1.4e10/L, 5-95% 1.7e9-1.0e11/L; Scenario default 0.5"),
    marrow_to_node=Marginal(0.75, 0.5, "log", 0.05, 20.0, "marrow CLL cells per node/spleen CLL cell",
                            "[A] the Scenario default split (marrow 3e11 : nodes 4e11); "
                            f"{_TRANSCEND_PH1}: 57% with marrow disease"),
    antigen_negative_fraction=Marginal(1e-5, 1.2, "log", 1e-7, 0.5, "fraction of CLL cells",
                                       f"[A] a small pre-existing antigen-low subclone ({_NCI}): CD19-negative "
                                       "relapse is uncommon after CD19 CAR-T in CLL (none of Porter 2015's "
                                       "complete responders relapsed: porter2015_cr_durability), so 1e-5 "
                                       "median (5-95% 1.4e-6-7e-5)"),
    normal_b_cells=Marginal(3e9, 1.0, "log", 1e7, 4e10, "cells, whole body",
                            f"[A] ~6% of {_HEALTHY_WHOLE_BODY_B}: suppressed by CLL and anti-CD20 therapy; the cap "
                            "stays below healthy"),
    cytokine_propensity=Marginal(1.0, 0.9, "log", 0.05, 10.0, "1 = typical CRS susceptibility",
                                 "[A] model parameter cytokine_propensity (default 1, range 0.05-10); 5-95% "
                                 "0.23-4.4: peak IL-6 spans "
                                 "orders of magnitude between patients of one trial (Teachey 2016 Cancer Discov), "
                                 "and "
                                 "calibrated to eliana_crs_any and juliet_crs_any (a grade distribution)"),
    tcell_fitness=Marginal(0.35, 0.6, "log", 0.05, 3.0, "1 = healthy-donor T cells",
                           "[A] CLL-related T-cell dysfunction (Testa 2024 Mediterr J Hematol Infect Dis; "
                           "Fraietta 2016 Blood; Fraietta 2018 Nat Med): "
                           "CLL CR 18-30% vs ALL 70-90% (cll_reasons_lower_efficacy); the cohort of "
                           "cartsim.studies._toci_timing; clip = the model parameter's range"),
    cd4_fraction=Marginal(0.5, 0.8, "logit", 0.05, 0.95, "CD4 share of T cells",
                          "[A] CD4:CD8 ~1: inverted in 39.7% of CLL at diagnosis (Gonzalez-Rodriguez 2010 Leuk "
                          "Lymphoma 51:1829, n=256), more after therapy; healthy 0.7-3.9 "
                          "(normal_lymphocytes_tcells)"),
    correlations=CLL_CORRELATIONS,
)

RR_CLL_EARLY = replace(
    RR_CLL_POST_BTKI_VENETOCLAX,
    name="rr_cll_early",
    description=("Relapsed CLL after 1-2 lines: smaller burden, less node-predominant, fitter T cells, "
                 "fewer BTKi and venetoclax exposures."),
    prior_lines=LineCount(1, 0.7, 5.0, 2, "[A] 1 or 2 prior lines (about half each)"),
    prior_btki=Proportion(0.6, "[A] a BTKi is a common first-line choice, not universal"),
    prior_venetoclax=Proportion(0.25, "[A] venetoclax-based first line (e.g. with obinutuzumab) in a minority"),
    age_years=Marginal(64.0, 9.0, "linear", 35.0, 90.0, "years", "[A] a little younger than after 4 lines"),
    tumor_cells=Marginal(2e11, 1.0, "log", 1e10, 1e13, "cells, whole body",
                         "[A] relapse caught earlier: below the cll_tumor_burden middle (5.5e11)"),
    blood_to_node=Marginal(0.6, 0.9, "log", 0.005, 20.0, "blood CLL cells per node/spleen CLL cell",
                           "[A] more leukaemic before BTKi failure (Scenario default split 0.5)"),
    antigen_negative_fraction=Marginal(5e-5, 1.2, "log", 1e-7, 0.5, "fraction of CLL cells",
                                       "[A] fewer prior selections than after 4 lines"),
    normal_b_cells=Marginal(1e10, 0.8, "log", 1e7, 4e10, "cells, whole body",
                            f"[A] 20% of {_HEALTHY_WHOLE_BODY_B}: less suppressed than after 4 lines"),
    tcell_fitness=Marginal(0.6, 0.55, "log", 0.05, 3.0, "1 = healthy-donor T cells",
                           "[A] fewer lines, fitter T cells (Fraietta 2016 Blood: the defect is due to disease and "
                           "therapy)"),
    cd4_fraction=Marginal(0.55, 0.7, "logit", 0.05, 0.95, "CD4 share of T cells",
                          "[A] between CLL at diagnosis (Gonzalez-Rodriguez 2010) and healthy donors"),
)

RR_CLL_CTL019_ERA = replace(
    RR_CLL_POST_BTKI_VENETOCLAX,
    name="rr_cll_ctl019_era",
    description=("Relapsed/refractory CLL treated before BTK inhibitors and venetoclax, as in the UPenn CTL019 "
                 "trials (Porter 2015, Frey 2020): heavily pretreated with chemoimmunotherapy, no BTKi or "
                 "venetoclax, so next-line ibrutinib after CAR-T failure."),
    prior_lines=LineCount(1, 4.0, 2.5, 15, "[M] Porter 2015 Sci Transl Med: median 5 prior therapies (1-11)"),
    prior_btki=Proportion(0.0, "[M] Porter 2015 / Frey 2020: enrolled before BTK inhibitors were approved"),
    prior_venetoclax=Proportion(0.0, "[M] Porter 2015 / Frey 2020: before venetoclax"),
)

#: Healthy donors' T cells do not carry the CLL history, so their fitness and CD4 share keep only
#: the age association.
_T_CELL_HISTORY = {frozenset(("prior_lines", "tcell_fitness")), frozenset(("prior_btki", "tcell_fitness")),
                   frozenset(("prior_lines", "cd4_fraction"))}

HEALTHY_T_CELLS = replace(
    RR_CLL_POST_BTKI_VENETOCLAX,
    name="healthy_t_cells",
    description=("The default R/R CLL patients (same disease, history and seeds) with healthy-donor T-cell fitness: "
                 "the ALL/lymphoma-like contrast of Testa 2024 (Mediterr J Hematol Infect Dis), where CLL does "
                 "worse because of CLL-related "
                 "T-cell dysfunction."),
    tcell_fitness=Marginal(1.0, 0.3, "log", 0.05, 3.0, "1 = healthy-donor T cells",
                           "[A] the model's reference (parameter default 1) with healthy inter-donor spread"),
    cd4_fraction=Marginal(0.62, 0.5, "logit", 0.05, 0.95, "CD4 share of T cells",
                          "normal_lymphocytes_tcells: CD4:CD8 0.7-3.9 taken as the 95% band (median ratio 1.65)"),
    correlations=tuple(c for c in CLL_CORRELATIONS if frozenset((c.a, c.b)) not in _T_CELL_HISTORY),
)

_ELIANA = "Maude 2018 NEJM 378:439 (ELIANA, 75 infused)"
_ELIANA_UPDATE = "Grupp 2018 ASH abstract (ELIANA update, 79 infused)"
_JULIET = "Schuster 2019 NEJM 380:45 (JULIET, 111 infused)"
_TESTA = "Testa 2024 Mediterr J Hematol Infect Dis"
#: CD19 antigen density: CLL cells carry less CD19 than normal B cells (Ginaldi 1998 J Clin Pathol 51:364,
#: quantitative flow cytometry; recalled, verify); B-ALL blasts carry more (the CD19-high ALL of the CAR-T trials).
_CD19_DENSITY = "Ginaldi 1998 J Clin Pathol: CD19 is dim on CLL (recalled, verify)"

#: Correlations of the B-ALL preset: the disease and its treatment history, not CLL's.
B_ALL_CORRELATIONS = (
    Correlation("age_years", "weight_kg", 0.8, "[A] children grow: weight follows age from 3 to 25 years"),
    Correlation("prior_lines", "tcell_fitness", -0.3,
                "Das 2019 Cancer Discov: T-cell fitness for CAR-T manufacture falls with cycles of chemotherapy "
                "in paediatric ALL (recalled, verify)"),
    Correlation("prior_lines", "antigen_negative_fraction", 0.2,
                "[A] more therapy (blinatumomab, relapse) selects CD19-low subclones (Orlando 2018 Nat Med: "
                "CD19-negative relapse after CAR-T; recalled, verify)"),
    Correlation("tumor_cells", "cytokine_propensity", 0.3,
                "[A] CRS is more severe with higher marrow burden (Maude 2018 NEJM; Teachey 2016 Cancer Discov; "
                "recalled, verify)"),
    Correlation("tumor_cells", "tumor_growth_factor", 0.3, "[A] a large marrow burden at relapse reflects fast "
                                                           "growth"),
    Correlation("tumor_cells", "normal_b_cells", -0.4, "[A] blasts crowd out normal B-cell production"),
)

B_ALL_PAEDIATRIC = Population(
    name="b_all_paediatric_ya",
    description=("Relapsed/refractory CD19+ B-ALL in children and young adults, as in ELIANA: median age 11, "
                 "marrow- and blood-dominant disease (median 74% marrow blasts), fast growth, high CD19 density, "
                 "T cells less damaged than in CLL."),
    disease="B-ALL",
    prior_lines=LineCount(1, 2.0, 3.0, 10, f"{_ELIANA}: median 3 prior lines (1-8); 61% prior allo-SCT "
                                           f"({_ELIANA_UPDATE})"),
    prior_btki=Proportion(0.0, "BTK inhibitors are not used in ALL"),
    prior_venetoclax=Proportion(0.0, "[A] venetoclax is not a standard line in paediatric ALL"),
    age_years=Marginal(11.0, 5.5, "linear", 3.0, 24.0, "years", f"{_ELIANA_UPDATE}: median 11 (3-24); sd [A]"),
    weight_kg=Marginal(40.0, 0.5, "log", 12.0, 120.0, "kg", "[A] children and young adults aged 3-24"),
    tumor_cells=Marginal(1.5e12, 0.8, "log", 1e10, 6e12, "cells, whole body",
                         f"{_ELIANA}: median 74% marrow blasts (5-99%, >= 5% required); against the model's 1e12 "
                         "nucleated marrow cells 74% is ~2.8e12 blasts; [A] whole-body median 1.5e12"),
    blood_to_node=Marginal(0.5, 1.0, "log", 0.005, 20.0, "blood blasts per extramedullary blast",
                           "[A] circulating blasts in most relapsed ALL; gives ~1.3e10/L blood blasts in the median"),
    marrow_to_node=Marginal(10.0, 0.6, "log", 1.0, 100.0, "marrow blasts per extramedullary blast",
                            "[A] marrow-dominant disease; spleen/liver/node involvement is small"),
    antigen_negative_fraction=Marginal(1e-4, 1.2, "log", 1e-7, 0.5, "fraction of blasts",
                                       "[A] CD19-negative relapse is common after CD19 CAR-T in ALL (Orlando 2018 "
                                       "Nat Med; recalled, verify), so a larger pre-existing CD19-low share than "
                                       "CLL"),
    normal_b_cells=Marginal(5e9, 1.0, "log", 1e7, 4e10, "cells, whole body",
                            f"[A] ~10% of {_HEALTHY_WHOLE_BODY_B}: after intensive chemotherapy"),
    cytokine_propensity=Marginal(1.0, 0.9, "log", 0.05, 10.0, "1 = typical CRS susceptibility",
                                 "[A] as the CLL presets; burden drives the ALL storm"),
    tcell_fitness=Marginal(0.8, 0.5, "log", 0.05, 3.0, "1 = healthy-donor T cells",
                           f"[A] {_TESTA}: CAR-T work better in ALL than in CLL, whose T-cell dysfunction is "
                           "disease-related; Das 2019 Cancer Discov: chemotherapy still costs fitness"),
    cd4_fraction=Marginal(0.6, 0.5, "logit", 0.05, 0.95, "CD4 share of T cells",
                          "[A] near the healthy range (normal_lymphocytes_tcells), lowered by chemotherapy"),
    tumor_growth_factor=Marginal(10.0, 0.4, "log", 2.0, 40.0, "x the table's CLL proliferation rates",
                          "[A] relapsed ALL doubles in about two to three weeks (marrow net ~0.04/day at 10x the CLL "
                          "birth rates) against CLL's months (cll_net_growth); recalled, verify"),
    antigen_density=Marginal(2.0, 0.3, "log", 0.5, 6.0, "CD19 per tumour cell, relative to CLL",
                             f"[A] {_CD19_DENSITY}; bright CD19 on B-ALL blasts; factor 2 [A]"),
    node_access=Marginal(0.7, 0.0, "linear", 0.7, 0.7, "CAR-T access to extramedullary tumour (0-1)",
                         "[A] extramedullary ALL (spleen, liver) is not the protective node niche of CLL: as marrow"),
    killing_factor=Marginal(1.5, 0.0, "linear", 1.5, 1.5, "x the table's maximal kill rate",
                            "[A] CLL cells induce T-cell synapse defects (Ramsay 2008 J Clin Invest; recalled, "
                            "verify) "
                            "that ALL blasts do not: a less suppressive microenvironment"),
    correlations=B_ALL_CORRELATIONS,
)

#: Correlations of the LBCL preset.
LBCL_CORRELATIONS = (
    Correlation("prior_lines", "tcell_fitness", -0.3,
                "[A] as in CLL: chemotherapy lines cost T-cell fitness (Fraietta 2016 Blood for CLL)"),
    Correlation("age_years", "tcell_fitness", -0.15, "[A] immunosenescence"),
    Correlation("tumor_cells", "cytokine_propensity", 0.3,
                "[A] CRS is more severe with higher burden (Hay 2017 Blood; recalled, verify)"),
    Correlation("tumor_cells", "tumor_growth_factor", 0.2, "[A] bulky disease reflects fast growth"),
    Correlation("prior_lines", "antigen_negative_fraction", 0.15, "[A] as in CLL"),
)

R_R_LBCL = Population(
    name="rr_lbcl",
    description=("Relapsed/refractory large B-cell lymphoma after two or more lines, as in JULIET: median age 56, "
                 "bulky nodal and extranodal masses with little blood or marrow disease, aggressive growth."),
    disease="LBCL",
    prior_lines=LineCount(2, 1.2, 3.0, 10, f"{_JULIET}: median 3 prior lines; >= 2 required; 49% prior ASCT"),
    prior_btki=Proportion(0.0, "[A] BTK inhibitors are not a standard line in LBCL"),
    prior_venetoclax=Proportion(0.0, "[A] not a standard line in LBCL"),
    age_years=Marginal(56.0, 12.0, "linear", 22.0, 80.0, "years", f"{_JULIET}: median 56 (22-76); sd [A]"),
    weight_kg=Marginal(78.0, 0.18, "log", 40.0, 160.0, "kg", "[A] adults of a Western trial population"),
    tumor_cells=Marginal(2e11, 1.0, "log", 1e9, 3e12, "cells, whole body",
                         "[A] 1 cm3 ~ 1e9 cells (tumor_cells_per_cm3): bulky relapsed LBCL of ~200 cm3 in the "
                         "median; "
                         f"{_JULIET}: 76% stage III/IV"),
    blood_to_node=Marginal(0.002, 1.0, "log", 1e-5, 0.5, "blood lymphoma cells per nodal/extranodal cell",
                           "[A] circulating lymphoma cells are rare in LBCL"),
    marrow_to_node=Marginal(0.02, 1.5, "log", 1e-5, 2.0, "marrow lymphoma cells per nodal/extranodal cell",
                            "[A] marrow involvement in a minority of relapsed LBCL"),
    antigen_negative_fraction=Marginal(1e-3, 1.2, "log", 1e-7, 0.5, "fraction of lymphoma cells",
                                       "[A] CD19 loss or low density in a share of LBCL relapses after CAR-T "
                                       "(Neelapu 2017 NEJM; Spiegel 2021 Nat Med; recalled, verify)"),
    normal_b_cells=Marginal(3e9, 1.0, "log", 1e7, 4e10, "cells, whole body",
                            f"[A] ~6% of {_HEALTHY_WHOLE_BODY_B}: depleted by rituximab-containing lines"),
    cytokine_propensity=Marginal(1.0, 0.9, "log", 0.05, 10.0, "1 = typical CRS susceptibility",
                                 "[A] as the CLL presets"),
    tcell_fitness=Marginal(0.6, 0.55, "log", 0.05, 3.0, "1 = healthy-donor T cells",
                           f"[A] {_TESTA}: CAR-T work better in lymphoma than in CLL, whose T-cell defect is "
                           "disease-related; chemotherapy lines still cost fitness"),
    cd4_fraction=Marginal(0.55, 0.6, "logit", 0.05, 0.95, "CD4 share of T cells",
                          "[A] between heavily treated and healthy donors"),
    tumor_growth_factor=Marginal(3.0, 0.4, "log", 0.5, 20.0, "x the table's CLL proliferation rates",
                          "[A] aggressive lymphoma: nodal net growth ~0.03/day at 3x the CLL node birth rate "
                          "(doubling in weeks); recalled, verify"),
    antigen_density=Marginal(1.3, 0.4, "log", 0.3, 6.0, "CD19 per tumour cell, relative to CLL",
                             f"[A] {_CD19_DENSITY}; CD19 on LBCL is variable, brighter than on CLL in most"),
    node_access=Marginal(0.3, 0.0, "linear", 0.3, 0.3, "CAR-T access to nodal tumour (0-1)",
                         "[A] bulky lymphoma masses restrict CAR-T access as CLL nodes do (the table's access_node)"),
    killing_factor=Marginal(1.0, 0.0, "linear", 1.0, 1.0, "x the table's maximal kill rate",
                            "[A] an immunosuppressive lymphoma microenvironment, as CLL's (Jain 2021 Blood Adv: "
                            "tumour interferon signalling and myeloid suppression predict failure; recalled, "
                            "verify)"),
    correlations=LBCL_CORRELATIONS,
)

#: The presets as written above, before the calibrated parameter set is applied.
UNCALIBRATED_POPULATIONS: dict[str, Population] = {
    p.name: p for p in (RR_CLL_POST_BTKI_VENETOCLAX, RR_CLL_EARLY, RR_CLL_CTL019_ERA, HEALTHY_T_CELLS,
                        B_ALL_PAEDIATRIC, R_R_LBCL)}
DEFAULT_POPULATION = RR_CLL_POST_BTKI_VENETOCLAX.name
#: The population of the UPenn CTL019 cohorts (Porter 2015, Frey 2020): treated before BTK inhibitors.
CTL019_ERA_POPULATION = RR_CLL_CTL019_ERA.name
#: The populations of ELIANA (paediatric/young-adult B-ALL) and JULIET (LBCL).
B_ALL_POPULATION = B_ALL_PAEDIATRIC.name
LBCL_POPULATION = R_R_LBCL.name
#: The shipped parameter set, which the presets apply on import. ``cartsim calibrate`` never writes it (it
#: writes to its ``--out``); a calibration becomes the package default only by committing its output here.
CALIBRATED_FILE = Path(__file__).with_name("calibrated.json")
#: The ``format`` of a parameter-set file; the number after the slash changes with its layout.
PARAMETER_SET_FORMAT = "cartsim-parameter-set/1"


class ParameterSetError(ValueError):
    """A parameter-set file that cannot be read or does not validate (the message names the file)."""


def _check_populations(populations) -> None:
    """Only presets, their marginals and the marginals' median/spread may be set (values are checked by
    :class:`Marginal` itself when the set is applied)."""
    if not isinstance(populations, dict):
        raise ValueError("'populations' must map preset names to characteristics")
    for name, fields in populations.items():
        if name not in UNCALIBRATED_POPULATIONS:
            raise ValueError(f"unknown population '{name}'; presets: {', '.join(UNCALIBRATED_POPULATIONS)}")
        for field_name, values in fields.items():
            if not isinstance(getattr(UNCALIBRATED_POPULATIONS[name], field_name, None), Marginal):
                raise ValueError(f"population '{name}' has no continuous characteristic '{field_name}'")
            if not isinstance(values, dict) or not set(values) <= {"median", "spread"}:
                raise ValueError(f"populations.{name}.{field_name} may set only 'median' and 'spread'")


def _check_parameters(parameters) -> None:
    if not isinstance(parameters, dict):
        raise ValueError("'parameters' must map model parameter names to values")
    if not parameters:
        return
    from ..model import PARAMETERS  # lazy: sampling patients needs no compiled model

    for name, value in parameters.items():
        if name not in PARAMETERS:
            raise ValueError(f"unknown model parameter '{name}'; see cartsim.model.PARAMETER_NAMES")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"parameter '{name}' must be a number, got {value!r}")
        PARAMETERS[name].check(value)


def load_parameter_set(path: str | Path) -> dict:
    """Read and check a parameter-set file (JSON, written by ``cartsim calibrate --out``): ``format``,
    ``version``, provenance, ``populations`` (preset -> characteristic -> median/spread) and ``parameters``
    (model parameter values by name; both may be empty). Raises :class:`ParameterSetError`."""
    try:
        parameter_set = json.loads(Path(path).read_text())
        if not isinstance(parameter_set, dict) or parameter_set.get("format") != PARAMETER_SET_FORMAT:
            raise ValueError(f"not a parameter set (needs \"format\": \"{PARAMETER_SET_FORMAT}\")")
        if not isinstance(parameter_set.get("version"), str):
            raise ValueError("needs a 'version' (text)")
        parameter_set.setdefault("populations", {})
        parameter_set.setdefault("parameters", {})
        _check_populations(parameter_set["populations"])
        _check_parameters(parameter_set["parameters"])
        populations_of(parameter_set)  # a median or spread outside its marginal's bounds fails here
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise ParameterSetError(f"parameter set {path}: {exc}") from None
    return parameter_set


def populations_of(parameter_set: dict) -> dict[str, Population]:
    """The presets with the marginals (median and spread) of ``parameter_set``, sources amended."""
    out = dict(UNCALIBRATED_POPULATIONS)
    targets = ", ".join(parameter_set.get("targets", ())) or "no targets"
    for name, fields in parameter_set.get("populations", {}).items():
        changes = {}
        for field_name, values in fields.items():
            marginal = getattr(out[name], field_name)
            changes[field_name] = replace(marginal, **values, source=(
                f"calibrated {parameter_set['version']} to {targets} (cartsim calibrate; objective "
                f"{parameter_set.get('objective', float('nan')):.3g}); before: median {marginal.median:g}, "
                f"spread {marginal.spread:g}, {marginal.source}"))
        out[name] = replace(out[name], **changes)
    return out


POPULATIONS: dict[str, Population] = populations_of(load_parameter_set(CALIBRATED_FILE))


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------

def _count(name: str, value) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _population(name: str | Population) -> Population:
    if isinstance(name, Population):
        return name
    if name not in POPULATIONS:
        raise ValueError(f"unknown population {name!r}; presets: {', '.join(POPULATIONS)}")
    return POPULATIONS[name]


def _patient_keys(seed: int, patients: np.ndarray) -> np.ndarray:
    """A 64-bit key per (seed, patient index): the whitened seed offset by the index, then mixed."""
    seed_key = mix_seeds(np.uint64(seed), _SEED_STREAM)
    with np.errstate(over="ignore"):
        return mix_seeds(seed_key + patients, _PATIENT_STREAM)


def _simulation_seeds(keys: np.ndarray) -> np.ndarray:
    """Each patient's own simulation seed: 63 bits, so it fits SimulationSettings.seed (< 2**63)."""
    return mix_seeds(keys, _SIMULATION_SEED_STREAM) >> np.uint64(1)


def _independent_normals(keys: np.ndarray) -> list[np.ndarray]:
    """One standard normal per patient and latent characteristic, from hashed bits (no generator state)."""
    base = mix_seeds(keys, _LATENT_STREAM)
    return [hashed_normals(base, k) for k in range(len(LATENT))]


def _correlate(normals: list[np.ndarray], cholesky: np.ndarray) -> dict[str, np.ndarray]:
    """``L @ z`` per patient, written as column sums in a fixed order: a matrix product may sum in
    another order for another batch size, and a patient's values must not depend on its batch."""
    correlated = {}
    for j, name in enumerate(LATENT):
        total = cholesky[j, 0] * normals[0]
        for k in range(1, j + 1):
            if cholesky[j, k] != 0.0:
                total = total + cholesky[j, k] * normals[k]
        correlated[name] = total
    return correlated


def _tumor_split(population: Population, z: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Whole-body burden over blood, marrow and nodes (cells) from the two ratios to node cells."""
    total = population.tumor_cells.values(z["tumor_cells"])
    blood = population.blood_to_node.values(z["blood_to_node"])
    marrow = population.marrow_to_node.values(z["marrow_to_node"])
    per_node_share = total / (1.0 + blood + marrow)
    return blood * per_node_share, marrow * per_node_share, per_node_share


def sample_population(name: str | Population, n: int, seed: int, start: int = 0) -> pd.DataFrame:
    """Patients ``start .. start+n-1`` of population ``name`` (a key of :data:`POPULATIONS`, or a
    :class:`Population` such as a calibration candidate), fixed by ``seed``.

    Returns one row per patient with the columns of :data:`COLUMNS`: ``patient`` (int64 index),
    ``seed`` (uint64, the patient's own simulation seed, < 2**63), ``age_years``, ``weight_kg``,
    ``tumor_blood_cells``/``tumor_marrow_cells``/``tumor_node_cells`` (whole-body CLL cells),
    ``antigen_negative_fraction``, ``normal_b_cells`` (whole body), ``tcell_fitness`` (1 = healthy
    donor), ``cytokine_propensity`` (1 = typical), ``cd4_fraction`` (CD4 share of T cells, the
    product's CD4:CD8 unless an arm sets it), ``prior_lines`` (int64), ``prior_btki`` and
    ``prior_venetoclax`` (bool). A row depends only on (name, seed, patient), never on ``n`` or
    ``start``. Raises ValueError for an unknown name, a negative ``n`` or ``start``, or a seed
    outside [0, 2**64).
    """
    population = _population(name)
    n, start = _count("n", n), _count("start", start)
    seed = _count("seed", seed)
    if seed >= _SEED_LIMIT:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    if start + n > np.iinfo(np.int64).max:
        raise ValueError(f"start + n must fit int64, got {start} + {n}")

    patients = np.arange(start, start + n, dtype=np.uint64)
    keys = _patient_keys(seed, patients)
    z = _correlate(_independent_normals(keys), population.cholesky())
    return patients_from_latents(population, z, patients.astype(np.int64), _simulation_seeds(keys))


def patients_from_latents(population: Population, z: dict[str, np.ndarray], patients: np.ndarray,
                          seeds: np.ndarray) -> pd.DataFrame:
    """The population frame (:data:`COLUMNS`) of patients whose correlated latent normals are ``z`` (one array
    per name of :data:`LATENT`), numbered ``patients`` with simulation ``seeds``: the mapping
    :func:`sample_population` applies to its hashed normals, open to other designs (a calibration's
    quasi-random plausible-patient pool)."""
    n = len(patients)
    blood, marrow, node = _tumor_split(population, z)
    return pd.DataFrame({
        "patient": np.asarray(patients, dtype=np.int64),
        "seed": np.asarray(seeds, dtype=np.uint64),
        "age_years": population.age_years.values(z["age_years"]),
        "weight_kg": population.weight_kg.values(z["weight_kg"]),
        "tumor_blood_cells": blood,
        "tumor_marrow_cells": marrow,
        "tumor_node_cells": node,
        "antigen_negative_fraction": population.antigen_negative_fraction.values(z["antigen_negative_fraction"]),
        "normal_b_cells": population.normal_b_cells.values(z["normal_b_cells"]),
        "tcell_fitness": population.tcell_fitness.values(z["tcell_fitness"]),
        "cytokine_propensity": population.cytokine_propensity.values(z["cytokine_propensity"]),
        "cd4_fraction": population.cd4_fraction.values(z["cd4_fraction"]),
        "prior_lines": population.prior_lines.values(z["prior_lines"]),
        "prior_btki": population.prior_btki.values(z["prior_btki"]),
        "prior_venetoclax": population.prior_venetoclax.values(z["prior_venetoclax"]),
        "disease": np.full(n, population.disease),
        "tumor_growth_factor": population.tumor_growth_factor.values(z["tumor_growth_factor"]),
        "antigen_density": population.antigen_density.values(z["antigen_density"]),
        "node_access": population.node_access.values(z["node_access"]),
        "killing_factor": population.killing_factor.values(z["killing_factor"]),
    }, columns=list(COLUMNS))


def _field(row, name: str):
    """A column of a population row: a pandas Series, an itertuples() row or a mapping."""
    return getattr(row, name) if hasattr(row, name) else row[name]


#: Population column -> field of the Scenario's ``patient.tumor`` block.
TUMOR_FIELDS = {"tumor_blood_cells": "blood_cells", "tumor_marrow_cells": "marrow_cells",
                "tumor_node_cells": "node_cells", "antigen_negative_fraction": "antigen_negative_fraction",
                "tumor_growth_factor": "growth_factor", "antigen_density": "antigen_density",
                "node_access": "node_access", "killing_factor": "killing_factor"}


def patient_fields(row) -> dict:
    """The Scenario ``patient`` block of one population row (a Series, itertuples() row or mapping)."""
    value = lambda name: float(_field(row, name))  # noqa: E731  (plain floats for pydantic and YAML)
    return {
        "disease": str(_field(row, "disease")),
        "age_years": value("age_years"),
        "weight_kg": value("weight_kg"),
        "tumor": {field_name: value(column) for column, field_name in TUMOR_FIELDS.items()},
        "normal_b_cells": value("normal_b_cells"),
        "tcell_fitness": value("tcell_fitness"),
        "cytokine_propensity": value("cytokine_propensity"),
        "cd4_fraction": value("cd4_fraction"),
        "prior_lines": int(_field(row, "prior_lines")),
        "prior_btki": bool(_field(row, "prior_btki")),
    }
