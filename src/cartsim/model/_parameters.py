"""The parameter table: every model parameter with units, default, plausible range and source.

Each source names its paper by first author, year and journal, and carries an evidence tag:
[V] the value was checked against the paper; [M] it is recalled from the paper and is to be
verified before calibrating; [A] it is an assumption of cartsim (a paper named beside it gives the
structure or the direction, not the number). "calibrated to <target>" names an entry of
``src/cartsim/calibration/targets.yaml``. Defaults describe a 4-1BB, CD19-directed
product in a relapsed/refractory CLL patient; co-stimulation presets in
:mod:`cartsim.product` replace the product-specific rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


@dataclass(frozen=True)
class Parameter:
    name: str
    units: str
    default: float
    low: float
    high: float
    source: str
    description: str
    #: The value under a construct choice other than the table's reference product (4-1BB, CD19, autologous,
    #: no suicide switch), keyed by the choice: "CD28", "ROR1", "CD19/ROR1", "allogeneic", "suicide_switch".
    constructs: Mapping[str, float] = field(default_factory=dict)
    #: Who reads it: the in-vivo ``kernel``, the clinic's ``observable`` readouts, the death ``hazard`` model,
    #: or the ``dose`` a drug is given in (its distribution volume, also read by the kernel for tocilizumab).
    group: str = "kernel"

    @property
    def prior(self) -> str:
        """The calibration prior over ``[low, high]``: log-uniform across a positive range of a decade or more
        (a rate, a count or a concentration known to its order of magnitude), otherwise uniform."""
        return "log-uniform" if self.low > 0 and self.high >= 10 * self.low else "uniform"

    def check(self, value: float) -> None:
        """Raise ValueError unless ``low <= value <= high``."""
        if not (np.isfinite(value) and self.low <= value <= self.high):
            raise ValueError(
                f"The parameter '{self.name}' must be within [{self.low:g}, {self.high:g}] {self.units}; "
                f"got {float(value)!r} instead.")


_KIRO = "Kirouac 2023 Nat Biotechnol"
_KIMMEL = "Kimmel 2021 Proc R Soc B, Table 1"
_STEIN = "Stein 2019 CPT:PSP (stein2019_model_params)"
_KAY = "Kay/Kenderian ASH 2022 and 2025 paper (kay2022_* targets)"
_SANT = "Santurio 2025 PLOS Comput Biol"
_NCI = "NCI, CAR T cells: engineering patients' immune cells to treat their cancers (cancer.gov)"
_DEX = "[A] dexamethasone one-compartment PK with an Emax effect"

PARAMETER_TABLE: tuple[Parameter, ...] = (
    # ---- CAR-T, per lineage ----------------------------------------------------------------
    Parameter("proliferation_cd4", "1/day", 1.7, 0.1, 3.0,
              f"[M] {_STEIN} doubling 0.78 d; [A] calibrated to stein2019_doubling_time and kymriah_all_tmax",
              "maximal antigen-driven proliferation rate of CD4 effectors"),
    Parameter("proliferation_cd8", "1/day", 2.0, 0.1, 3.0,
              f"[M] {_STEIN} doubling 0.78 d; [A] calibrated to stein2019_doubling_time and kymriah_all_tmax",
              "maximal antigen-driven proliferation rate of CD8 effectors"),
    Parameter("memory_death_cd4", "1/day", 0.007, 1e-4, 0.2,
              "[M] Melenhorst 2022 Nature: CD4 CAR-T persist a decade; [A] below memory_renewal, so CD4 memory "
              "renews itself to a set point in the niche room (calibrated to melenhorst2022_persistence and "
              "porter2015_cr_durability)", "death rate of resting CD4 CAR-T"),
    Parameter("memory_death_cd8", "1/day", 0.016, 1e-4, 0.2,
              f"[M] {_STEIN}: terminal slope beta 0.0032/day (ALL); [A] CD8 memory declines net ~0.006/day above "
              f"memory_renewal, so CD4 come to dominate (melenhorst2022_cd4_dominance)",
              "death rate of resting CD8 CAR-T"),
    Parameter("effector_death_cd4", "1/day", 0.10, 0.01, 2.0,
              "[A] CD4 effectors are less prone to activation-induced death, so they outlast CD8 on "
              "scarce antigen (melenhorst2022_cd4_dominance)", "death rate of CD4 effectors"),
    Parameter("effector_death_cd8", "1/day", 0.16, 0.01, 2.0, f"[V] {_STEIN}: contraction alpha 0.16/day",
              "death rate of CD8 effectors (contraction phase)"),
    Parameter("cytotoxicity_cd4", "1", 0.5, 0.0, 2.0, "[A] Melenhorst 2022: CD4 CAR-T are cytotoxic",
              "killing weight of a CD4 effector relative to a CD8 effector"),
    Parameter("cytotoxicity_cd8", "1", 1.0, 0.0, 2.0, "[A] reference lineage", "killing weight of a CD8 effector"),
    # ---- CAR-T, shared -----------------------------------------------------------------------
    Parameter("resting_cytotoxicity", "1", 0.3, 0.0, 1.0,
              "[A] Melenhorst 2022 Nature: persisting CD4 CAR-T remain cytolytic years later",
              "killing weight of a resting CAR-T relative to an effector of its lineage"),
    Parameter("memory_renewal", "1/day", 0.01, 0.0, 0.1,
              f"[A] {_KIRO} structure (mu_M); with memory_death_cd8 it gives the slow terminal decline of "
              f"stein2019_terminal_half_life (net ~0.003/day), CD4 nearly self-sustaining (Melenhorst 2022 Nature)",
              "homeostatic self-renewal of resting CAR-T at baseline IL-15, without antigen (scales with IL-15)"),
    Parameter("car_t_memory_capacity", "cells", 3e10, 1e7, 1e12,
              "[A] long-lived CAR-T compete with the host's own memory T cells for IL-7/IL-15, so after the "
              "contraction the pool settles for months to a homeostatic level that lasts (Melenhorst 2022 "
              "Nature). Toward stein2019_terminal_half_life (1109 d here against 165-275): 5e9 meets it, but then "
              "complete responders lose their CAR-T and relapse (porter2015_cr_durability), and below 3e10 "
              "the recovering B cells re-activate a smaller pool until it burns out (no CAR-T at ten years). A set "
              "point of 2.75e9 with memory_renewal 0.0155 and resting_cytotoxicity 0.6 gave terminal half-lives of "
              "249 d (CLL) and 263 d (B-ALL) and kept the cohort targets, but the exemplary responder "
              "(scenarios/responder.yaml) still lost its CAR-T by day 500 as its B cells recovered, and a CD28 "
              "patient re-expanded on its recovered B cells: the burn-out needs a mechanism, not a value",
              "resting CAR-T that homeostatic renewal can sustain"),
    Parameter("activation_rate", "1/day", 3.0, 0.01, 10.0,
              f"[A] memory-to-effector toggle of {_KIRO} and Stein 2019 CPT:PSP (k_act); T cells are triggered "
              f"within hours of meeting antigen", "activation of resting CAR-T with targets in excess"),
    Parameter("activation_antigen_per_car_t", "cells/cell", 0.3, 0.01, 100.0,
              "[A] a resting T cell needs to meet its antigen to be triggered: activation grows steeply (Hill 4) "
              "with accessible targets per CAR-T cell, so the few B cells of an aplastic marrow do not keep "
              "recruiting the memory pool while a culture at one target per CAR-T activates within a day "
              "(kay2022_senescence_onset)",
              "accessible antigen-positive targets per CAR-T cell giving half-maximal activation of resting cells"),
    Parameter("burst_divisions", "divisions", 11.5, 2.0, 30.0,
              "[A] Kaech & Ahmed 2001 Nat Immunol: once activated, T cells run a programme of 7-10+ divisions "
              "that goes on without further antigen; calibrated to kalos2011_expansion_fold, kymriah_all_tmax and, "
              "with "
              "burst_fitness_half, the CR and PR rates of Porter 2015 (porter2015_cr, porter2015_pr)",
              "divisions of an activated effector's burst at healthy-donor fitness, first exposure"),
    Parameter("contraction_death", "1/day", 0.65, 0.0, 2.0,
              "[A] Kaech & Ahmed 2001 Nat Immunol: programmed contraction after the burst, with or without "
              "antigen; calibrated to stein2019_initial_decline_half_life",
              "extra death of effectors whose burst is over"),
    Parameter("memory_formation", "1/day", 0.04, 0.0, 1.0,
              "[M] Kaech & Ahmed 2001 Nat Immunol: 5-10% of the expanded effectors survive contraction as memory",
              "return to rest (memory) of effectors whose burst is over, even with antigen left"),
    Parameter("burst_fitness_half", "1", 0.1, 0.05, 5.0,
              "[A] Kirouac 2023 Nat Biotechnol: patients differ in expansion capacity; the burst saturates "
              "above a low fitness, so the burst (and the CAR-T exposure, 2^burst) is graded in fitness rather than "
              "all-or-none; calibrated to porter2015_pr (0.2 gave PR 0.11 with CR 0.24)",
              "T-cell fitness giving half the saturating burst (the burst is burst_divisions at fitness 1)"),
    Parameter("product_senescent_fraction", "1", 0.1, 0.0, 1.0,
              "set per patient from the infused product (cartsim.product)",
              "senescent share of the infused product"),
    Parameter("senescence_burst_cost", "1", 1.5, 0.0, 5.0,
              f"[A] {_KAY}: a senescence signature of 4-1BB products goes with non-response (their effectors "
              f"expand less), not so in CD28 products",
              "relative loss of burst per unit senescent share of the product", constructs={"CD28": 0.0}),
    Parameter("rest_rate", "1/day", 0.003, 0.0, 1.0,
              "[A] effectors come to rest slowly once antigen is gone; the programmed share that becomes memory "
              "after the burst is memory_formation",
              "return of effectors to rest when antigen is gone (completes one exposure)"),
    Parameter("antigen_half_saturation", "cells", 5e8, 1e7, 1e13,
              f"[A] calibrated to porter2015_bcell_aplasia_crs_in_responders: CAR-T sustained on B-cell "
              f"antigen must hold B cells at aplasia; {_KIRO} fitted TK50 1e9-1e11",
              "accessible antigen-positive cells giving half-maximal CAR-T engagement"),
    Parameter("lymphoid_capacity", "cells", 3.6e11, 1e11, 5e12,
              "[M] Blum & Pabst 2007 Immunol Lett: ~5e11 lymphocytes in an adult's lymphoid organs and blood; "
              "3.6e11 calibrated between kalos2011_expansion_fold (higher) and porter2015_pr (lower)",
              "lymphocyte niche that CAR-T share with host T cells: effector proliferation falls as CAR-T plus "
              "host T cells fill it"),
    Parameter("homeostatic_effector_gain", "1", 0.1, 0.0, 2.0, "[A] Kimmel 2021 lymphodepletion niche",
              "extra effector proliferation per unit of IL-15 above baseline (relative)"),
    Parameter("tcell_fitness", "1", 1.0, 0.05, 3.0, f"[A] {_KIRO}: responders differ in expansion capacity",
              "T-cell fitness of the infused cells (1 = healthy donor): sets the size of the burst, not its pace"),
    # ---- co-stimulatory domain (product) -------------------------------------------------------
    Parameter("costim_proliferation_factor", "1", 1.0, 0.2, 3.0,
              "[A] 4-1BB reference; CD28 products expand faster and peak earlier (CD28 signalling favours "
              "effector differentiation, Kawalekar 2016 Immunity)",
              "co-stimulation multiplier on effector proliferation",
              constructs={"CD28": 1.5}),
    Parameter("costim_effector_death_factor", "1", 1.0, 0.2, 5.0,
              "[A] 4-1BB reference; CD28 signalling gives effector-like cells with more activation-induced "
              "death, 4-1BB favours persistence (Kawalekar 2016 Immunity)",
              "co-stimulation multiplier on effector death",
              constructs={"CD28": 2.0}),
    Parameter("costim_memory_death_excess", "1/day", 0.0, 0.0, 0.1,
              "[A] 4-1BB reference; CD28 products persist less (4-1BB favours memory and persistence, "
              "Kawalekar 2016 Immunity)",
              "co-stimulation addition to the death rate of resting CAR-T",
              constructs={"CD28": 0.01}),
    Parameter("senescence_rate", "1/day", 0.06, 0.0, 1.0,
              f"[A] calibrated to kay2022_senescence_onset (markers after 1-2 exposures); {_KAY}",
              "senescence of effectors under full antigen engagement, first exposure",
              constructs={"CD28": 0.04}),
    Parameter("rest_senescence_fraction", "1", 0.3, 0.0, 1.0, f"[A] {_KAY}: more senescence in 4-1BB",
              "fraction of effectors completing an exposure that become senescent",
              constructs={"CD28": 0.2}),
    Parameter("exposure_fitness_loss", "1", 0.3, 0.0, 0.9, f"[A] {_KAY}: later-activated cells control tumour worse",
              "relative loss of the burst per completed exposure",
              constructs={"CD28": 0.15}),
    Parameter("senescent_cytotoxicity", "1", 0.1, 0.0, 2.0,
              f"[A] {_KAY}: senescence impairs 4-1BB activity but not (even improves) CD28 activity",
              "killing weight of a senescent cell relative to an effector",
              constructs={"CD28": 1.0}),
    Parameter("senescent_proliferation", "1", 0.05, 0.0, 1.0, "[A] senescent cells divide little",
              "proliferation of senescent cells relative to effectors"),
    Parameter("senescent_death", "1/day", 0.2, 0.001, 1.0,
              "[M] Paixao 2022 Cancers (mu_E scale); [A] calibrated to stein2019_initial_decline_half_life",
              "death rate of senescent CAR-T"),
    # ---- product -------------------------------------------------------------------------------
    Parameter("target_on_normal_b", "1", 1.0, 0.0, 1.0,
              "Porter interview, CLL Society (CAR-T Part 2): CD19 on normal B cells, ROR1 not",
              "1 when the CAR target is on normal B cells (CD19), 0 when not (ROR1)",
              constructs={"ROR1": 0.0}),
    Parameter("switch_fraction", "1", 0.0, 0.0, 1.0, "[M] Di Stasi 2011 NEJM: ~90% elimination",
              "fraction of CAR-T carrying a functional suicide switch (0 without switch)",
              constructs={"suicide_switch": 0.95}),
    Parameter("allogeneic_rejection", "1/day", 0.0, 0.0, 5.0,
              "[A] 0 for autologous cells; allogeneic presets set it (cartsim.product): host-versus-graft "
              "rejection ends UCART19 persistence within weeks unless the host is deeply lymphodepleted "
              "(Benjamin 2020 Lancet)",
              "CAR-T elimination by host T cells, per day at a fully recovered host T-cell pool",
              constructs={"allogeneic": 1.0}),
    # ---- CLL -----------------------------------------------------------------------------------
    Parameter("cll_birth_blood", "1/day", 0.001, 0.0, 0.05, "[M] Messmer 2005 JCI (0.1-1 %/day)",
              "CLL proliferation in blood"),
    Parameter("cll_birth_marrow", "1/day", 0.004, 0.0, 0.05, "[M] Messmer 2005 JCI",
              "CLL proliferation in marrow"),
    Parameter("cll_birth_node", "1/day", 0.012, 0.0, 0.05, "[M] Herndon 2017 Leukemia: proliferation centres",
              "CLL proliferation in lymph nodes and spleen"),
    Parameter("cll_death", "1/day", 0.002, 0.0, 0.05,
              "[A] calibrated to cll_net_growth (net 0.001-0.01/day whole body)", "CLL death rate, all sites"),
    Parameter("cll_capacity", "cells", 5e12, 1e11, 1e14,
              "[A] above the largest burdens seen in R/R CLL (cll_tumor_burden: up to 3e12 cells)",
              "whole-body CLL burden at which proliferation stops (logistic)"),
    Parameter("cll_homing_marrow", "1/day", 0.03, 0.0, 100.0,
              "[A] set per patient so the initial distribution is at trafficking equilibrium with the measured "
              "egress (the range bounds an override, not the per-patient value)", "homing of blood CLL to marrow"),
    Parameter("cll_homing_node", "1/day", 0.03, 0.0, 100.0,
              "[A] set per patient so the initial distribution is at trafficking equilibrium with the measured "
              "egress (the range bounds an override, not the per-patient value)", "homing of blood CLL to nodes"),
    Parameter("cll_egress_marrow", "1/day", 0.006, 0.0, 2.0,
              "[V] Wodarz 2014 Blood: with homing blocked by ibrutinib, 23.3% of the tissue CLL burden "
              "redistributes into the blood over the first weeks (about 0.6%/day over six weeks); tissue "
              "disease falls by death more than by egress", "egress of marrow CLL to blood"),
    Parameter("cll_egress_node", "1/day", 0.006, 0.0, 2.0, "[V] Wodarz 2014 Blood (as cll_egress_marrow)",
              "egress of node CLL to blood"),
    Parameter("access_blood", "1", 1.0, 0.0, 1.0, "[A] site access weight (w_PB)", "CAR-T access to blood CLL"),
    Parameter("access_marrow", "1", 0.7, 0.0, 1.0, "[A] site access weight (w_BM)", "CAR-T access to marrow CLL"),
    Parameter("access_node", "1", 0.2, 0.0, 1.0,
              "[A] site access weight (w_LN), calibrated to porter2015_pr: nodal disease responds less than blood "
              "and marrow; a node's killing is then limited by how long effectors stay, so nodes respond in "
              "proportion to the expansion (partial responses) while the blood clears",
              "CAR-T access to nodal CLL"),
    Parameter("access_normal_b", "1", 0.7, 0.0, 1.0, "[A]", "CAR-T access to normal B cells"),
    Parameter("max_kill_rate", "1/day", 1.15, 0.01, 10.0, f"[V] {_KIMMEL} (gamma_B)",
              "maximal per-target killing rate at high effector numbers"),
    Parameter("kill_half_saturation", "cells", 2e8, 1e6, 1e12,
              f"[A] calibrated to porter2015_bcell_aplasia_crs_in_responders (persisting CAR-T keep B-cell "
              f"aplasia); {_KIMMEL} fitted 2.02e9 to nodal lymphoma volume",
              "effector pressure giving half-maximal killing"),
    Parameter("kills_per_effector", "cells/cell/day", 3.0, 0.1, 50.0,
              "[A] calibrated to kalos2011_tumor_killed (>=1000 CLL killed per CAR-T)",
              "maximal kills per effector per day when targets are in excess"),
    Parameter("inflammatory_killing_gain", "1", 0.0, 0.0, 5.0,
              "hypothesis of the Porter interview, CLL Society (CAR-T Part 2): the storm may aid killing; "
              "off by default",
              "relative increase of all killing (bystander cytotoxicity) at saturating IL-6 signalling"),
    Parameter("inflammatory_killing_il6_half", "pg/mL", 100.0, 1.0, 1e5, "[A]",
              "IL-6 signalling (above baseline) giving half the inflammatory killing gain"),
    Parameter("antigen_low_recognition", "1", 0.12, 0.0, 1.0,
              "[A] calibrated to melenhorst2022_mrd_clearance (no CLL left at 1e-6 after about six months in "
              "lasting remissions); antigen-low CLL is still killed, less efficiently (Majzner 2020 Cancer "
              "Discov)",
              "killing of the antigen-negative/low clone relative to the antigen-positive clone",
              constructs={"CD19/ROR1": 0.8}),
    Parameter("antigen_low_stimulation", "1", 0.0, 0.0, 1.0,
              "[A] antigen-low cells are killed below the density that drives CAR-T proliferation "
              "(Majzner 2020 Cancer Discov); an OR-gate dual CAR sees them fully (cartsim.product)",
              "stimulation of CAR-T by the antigen-negative/low clone relative to the antigen-positive clone",
              constructs={"CD19/ROR1": 0.8}),
    Parameter("antigen_escape_rate", "1/day", 1e-11, 0.0, 1e-3,
              "[A] antigen-escape switching (nu), a cartsim assumption; CD19-negative relapse is rare in CLL "
              f"(antigen loss: {_NCI})",
              "switching of antigen-positive CLL cells to the antigen-negative clone"),
    Parameter("cll_ld_sensitivity", "1/day", 0.05, 0.0, 2.0, "[A] fludarabine activity in R/R CLL is modest",
              "CLL kill rate per standard dose of lymphodepletion"),
    # ---- normal B cells --------------------------------------------------------------------------
    Parameter("b_cell_death", "1/day", 0.02, 0.001, 0.5,
              "[M] Leon-Triana 2021 Commun Nonlinear Sci Numer Simul; Serrano 2024 (lifetime ~50 days)",
              "normal B-cell death rate"),
    Parameter("b_cell_production", "cells/day", 4e8, 0.0, 1e11,
              "[A] set per patient so the initial count is at steady state (the range bounds an override, "
              "not the per-patient value)", "marrow output of normal B cells"),
    Parameter("b_cell_precursor_residence", "days", 7.0, 0.0, 30.0,
              "[A] CD19+ pro-/pre-B stages last about a week; CD19 CARs kill them in the marrow",
              "time CD19+ B-cell precursors spend exposed to CAR-T before release"),
    Parameter("b_cell_marrow_suppression", "cells", 1e11, 1e8, 1e13, "[A] marrow infiltration suppresses B-poiesis",
              "marrow CLL burden halving normal B-cell production"),
    Parameter("b_cell_ld_sensitivity", "1/day", 0.8, 0.0, 5.0, "[A] flu/cy depletes B cells",
              "normal B-cell kill rate per standard dose of lymphodepletion"),
    # ---- host T cells and IL-15 --------------------------------------------------------------------
    Parameter("host_t_capacity", "cells", 2.5e11, 1e10, 1e12, f"[V] {_KIMMEL} (K_N)",
              "homeostatic capacity of host T cells"),
    Parameter("host_t_regrowth", "1/day", 0.08, 0.001, 2.0,
              f"[A] host T cells recover over one to three months after flu/cy (half way by about a month); "
              f"{_KIMMEL}'s r_N = 0.17/day would restore 84% by day 14 and end the lymphopenic IL-15 window early",
              "Gompertz recovery rate of host T cells"),
    Parameter("host_t_ld_sensitivity", "1/day", 0.8, 0.0, 5.0,
              "[A] calibrated: three standard flu/cy doses leave ~5% of host T cells (Kimmel 2021 Proc R Soc B)",
              "host T-cell kill rate per standard dose of lymphodepletion"),
    Parameter("il15_baseline", "pg/mL", 4.0, 0.5, 20.0, "[M] Kochenderfer 2017 JCO (pre-LD IL-15)",
              "steady-state serum IL-15 with a full lymphocyte pool"),
    Parameter("il15_clearance", "1/day", 1.0, 0.1, 20.0, "[A]", "non-cellular IL-15 clearance"),
    Parameter("il15_consumption", "1/day", 9.0, 0.0, 100.0,
              "[A] calibrated: IL-15 rises ~7-fold after deep lymphodepletion (Kochenderfer 2017)",
              "IL-15 consumption by lymphocytes at the host T-cell capacity"),
    # ---- neutrophils (reduced Friberg 2002 model) --------------------------------------------------
    Parameter("neutrophil_baseline", "cells", 2e10, 1e9, 1e11, "[V] 4000/uL x 5 L (normal_lymphocytes_tcells, "
                                                               "blood_volume)",
              "steady-state circulating neutrophils"),
    Parameter("neutrophil_maturation", "1/day", 0.4, 0.05, 5.0, "[M] Friberg 2002 J Clin Oncol (MTT ~5 days)",
              "transit of precursors to blood"),
    Parameter("neutrophil_clearance", "1/day", 2.3, 0.5, 10.0, "[M] blood half-life ~7 h", "neutrophil removal"),
    Parameter("neutrophil_feedback", "1", 0.17, 0.0, 1.0, "[M] Friberg 2002 (gamma)",
              "G-CSF-like feedback exponent on precursor proliferation"),
    Parameter("neutrophil_ld_sensitivity", "1/day", 0.8, 0.0, 5.0, "[A] flu/cy myelotoxicity",
              "precursor kill rate per standard dose of lymphodepletion"),
    # ---- cytokines and CRS physiology ---------------------------------------------------------------
    Parameter("ifng_baseline", "pg/mL", 2.0, 0.1, 20.0, "[M] Teachey 2016 Cancer Discov; Giavridis 2018 Nat Med",
              "steady-state IFN-gamma"),
    Parameter("ifng_production", "pg/mL/day", 100.0, 0.0, 1e4,
              "[A] T-cell derived, peaks 1e2-1e3 pg/mL (Teachey 2016 Cancer Discov; Giavridis 2018 Nat Med)",
              "IFN-gamma per 1e9 engaged effectors per day"),
    Parameter("ifng_clearance", "1/day", 7.0, 1.0, 50.0, "[A] half-life of hours", "IFN-gamma clearance"),
    Parameter("senescent_secretion", "1", 0.5, 0.0, 2.0, f"[A] {_KAY}: inflamm-aging secretome",
              "cytokine output of a senescent cell relative to an engaged effector"),
    Parameter("macrophage_activation_by_killing", "1/day", 0.1, 0.0, 20.0,
              f"[A] {_SANT} (DAMPs); Liu 2020 Sci Immunol: pyroptosis of killed targets adds to CRS, secondary "
              "to CAR-T contact; [A] a fifth of the contact drive, as the contact drive is small; calibrated to "
              "eliana_crs_any, eliana_crs_grade3, juliet_crs_any and juliet_crs_grade3",
              "macrophage activation at saturating tumour-cell death"),
    Parameter("killing_half_activation", "cells/day", 1e11, 1e6, 1e13,
              f"[A] {_SANT}; mass killing of a large burden adds to the storm (Teachey 2016 Cancer Discov)",
              "tumour kill rate giving half-maximal DAMP activation"),
    Parameter("macrophage_activation_by_contact", "1/day", 0.2, 0.0, 20.0,
              f"[A] {_SANT}: CD40-CD40L contact of activated CAR-T with monocytes is the main driver of IL-6 "
              "(Hanson 2016 / Giavridis 2018 Nat Med: CAR-T activation, not tumour lysis, starts CRS); "
              "[A] small enough that macrophage activation grows with the expansion instead of saturating in every "
              "infused patient (a grade distribution, not all-or-none); calibrated to eliana_crs_any, "
              "eliana_crs_grade3, juliet_crs_any and juliet_crs_grade3", "activation by engaged CAR-T contact"),
    Parameter("contact_half_activation", "cells", 3e11, 1e6, 1e12,
              f"[A] {_SANT}; engaged CAR-T of the first days' expansion (CD4 counting double), so CRS starts "
              "within the first week and years of low-level persistence leave cytokines at baseline",
              "engaged CAR-T (CD4 counting double) giving half-maximal contact activation (Hill 2)"),
    Parameter("macrophage_activation_by_ifng", "1/day", 0.01, 0.0, 20.0,
              "[M] Teachey 2016; Giavridis 2018; [A] small for the same reason as the contact drive",
              "IFN-gamma priming of macrophages"),
    Parameter("ifng_half_activation", "pg/mL", 100.0, 1.0, 1e4, f"[A] {_SANT} (macrophage activation)",
              "IFN-gamma for half activation"),
    Parameter("il1_amplification", "1", 1.0, 0.0, 10.0,
              "[M] Giavridis 2018 Nat Med, Norelli 2018 Nat Med: monocyte IL-1 amplifies CRS; [A] it multiplies "
              "the CAR-T-driven activation instead of adding a drive of its own, so that no IL-1 loop can "
              "sustain a storm without CAR-T",
              "relative gain of macrophage activation at saturating IL-1 signalling"),
    Parameter("il1_half_activation", "pg/mL", 20.0, 0.1, 1e4, "[A]", "IL-1 signalling for half activation"),
    Parameter("macrophage_deactivation", "1/day", 0.5, 0.01, 10.0, f"[A] {_SANT} (k_off)",
              "return of activated macrophages to rest"),
    Parameter("macrophage_tolerance_rate", "1/day", 0.3, 0.0, 5.0,
              "[A] monocytes turn refractory after activation (endotoxin tolerance, Biswas & Lopez-Collazo "
              "2009 Trends Immunol); calibrated so CRS lasts about a week (ctl019_cll_crs_timing)",
              "activated macrophages becoming refractory"),
    Parameter("macrophage_tolerance_recovery", "1/day", 0.01, 0.001, 1.0,
              "[A] tolerance wanes over weeks to months, so the storm ends while CAR-T still kill", "refractory macrophages regaining responsiveness"),
    Parameter("cytokine_propensity", "1", 1.0, 0.05, 10.0, "[A] patient-level CRS susceptibility",
              "patient multiplier on macrophage activation"),
    Parameter("il6_baseline", "pg/mL", 5.0, 0.5, 20.0, "[V] il6_baseline target (1-7 pg/mL)", "steady-state IL-6"),
    Parameter("il6_production", "pg/mL/day", 3e4, 0.0, 1e6,
              "[A] calibrated to il6_peak_severe_vs_mild (1e3-1e4 pg/mL in severe CRS)",
              "IL-6 production at full macrophage activation"),
    Parameter("il6_clearance", "1/day", 2.0, 0.1, 50.0, f"[A] {_SANT} (IL-6)", "non-receptor IL-6 clearance"),
    Parameter("il6_receptor_clearance", "1/day", 6.0, 0.0, 50.0,
              f"[A] {_SANT}: free IL-6 rises when tocilizumab blocks IL-6R",
              "IL-6R-mediated IL-6 clearance"),
    Parameter("il1_baseline", "pg/mL", 1.0, 0.05, 20.0, "[A]", "steady-state IL-1"),
    Parameter("il1_production", "pg/mL/day", 100.0, 0.0, 1e5, "[A] IL-1 stays tens of pg/mL in CRS; autocrine loop "
                                                              "gain kept below 1",
              "IL-1 production at full macrophage activation"),
    Parameter("il1_clearance", "1/day", 10.0, 1.0, 100.0, "[A] half-life of hours", "IL-1 clearance"),
    Parameter("crp_baseline", "mg/L", 2.0, 0.1, 20.0, "[M] normal CRP < 5 mg/L", "steady-state CRP"),
    Parameter("crp_production", "mg/L/day", 260.0, 0.0, 1000.0,
              "[A] calibrated to crp_ferritin_severe_crs (>200 mg/L in severe CRS)",
              "hepatic CRP production at saturating IL-6 signalling"),
    Parameter("crp_il6_half", "pg/mL", 200.0, 1.0, 1e4,
              "[A] calibrated to crp_ferritin_severe_crs (mild CRS 20-150 mg/L, severe > 200 mg/L)", "IL-6 signalling for half-maximal CRP production"),
    Parameter("crp_clearance", "1/day", 0.87, 0.3, 3.0, "[M] CRP half-life ~19 h", "CRP clearance"),
    Parameter("endothelial_activation_by_il6", "1/day", 9.0, 0.0, 20.0,
              "[M] Gust 2017 Cancer Discov; [A] with endothelial_recovery sets how fast the "
              "leak follows the IL-6 peak of a day or two; calibrated to il6_peak_severe_vs_mild (vasopressors at "
              "IL-6 "
              "peaks of a few thousand pg/mL)", "endothelial activation by IL-6 trans-signalling"),
    Parameter("endothelial_activation_by_ifng", "1/day", 0.3, 0.0, 20.0,
              "[M] Gust 2017; [A] small, so CRS ends with the IL-6 storm although IFN-gamma stays high while "
              "CAR-T kill (il6_peak_severe_vs_mild)", "by IFN-gamma"),
    Parameter("endothelial_activation_by_il1", "1/day", 1.5, 0.0, 20.0, "[M] Norelli 2018 Nat Med; [A] scaled with "
                                                                        "endothelial_recovery", "by IL-1"),
    Parameter("endothelial_il6_half", "pg/mL", 1700.0, 1.0, 1e5,
              "[A] Hill 2 (the leak is a threshold response of the endothelium): fluid-responsive hypotension from "
              "~700 pg/mL, "
              "one vasopressor from ~1200, several from ~1900, so the most susceptible reach grade 4 untreated; "
              "calibrated to il6_peak_severe_vs_mild (severe CRS at IL-6 1e3-1e4 pg/mL, mild 10-100) and "
              "calibrated to eliana_crs_any, eliana_crs_grade3, juliet_crs_any and juliet_crs_grade3",
              "IL-6 signalling for half activation (Hill 2)"),
    Parameter("endothelial_recovery", "1/day", 3.0, 0.01, 10.0,
              "[A] capillary leak resolves within a day or two of the cytokines (Gust 2017), so the leak tracks "
              "the IL-6 peak", "endothelial recovery rate"),
    Parameter("neurotoxicity_by_endothelium", "1/day", 0.05, 0.0, 20.0,
              "[M] Gust 2017 Cancer Discov: ICANS follows endothelial activation and blood-brain-barrier "
              "disruption; [A] small beside the CAR-T drive, so that mild CRS without a large expansion leaves "
              "the CNS alone (eliana_neuro_any, juliet_neuro_any)",
              "CNS inflammation driven by endothelial activation, behind the opened barrier"),
    Parameter("blood_brain_barrier_half", "1", 0.52, 0.01, 1.0,
              "[M] Gust 2017 Cancer Discov: blood-brain-barrier disruption in severe neurotoxicity, with "
              "endothelial activation (Ang-2/Ang-1, vWF) during severe CRS; [A] calibrated to eliana_neuro_grade3 "
              "and juliet_neuro_grade3", "endothelial activation at which the blood-brain barrier is half open "
              "(Hill 4)"),
    Parameter("neurotoxicity_by_il6", "1/day", 0.5, 0.0, 20.0,
              "[M] free IL-6 reaches the CSF, where tocilizumab (which hardly crosses the barrier) does not "
              "block it, so prophylactic tocilizumab does not prevent ICANS (Lee 2019 BBMT; Neelapu 2018 "
              "Nat Rev Clin Oncol; Locke 2017 ZUMA-1 cohort 3); not yet reproduced, since the barrier it acts behind "
              "opens with IL-6 signalling (tests/test_neurotoxicity.py, a strict xfail)",
              "CNS inflammation driven by free serum IL-6"),
    Parameter("neurotoxicity_il6_half", "pg/mL", 15000.0, 1.0, 1e5,
              "[A] only the free-IL-6 surge under tocilizumab (> 1e4 pg/mL) drives it strongly",
              "free IL-6 for half-maximal CNS drive"),
    Parameter("neurotoxicity_by_il1", "1/day", 0.3, 0.0, 20.0,
              "[M] Norelli 2018 Nat Med: IL-1 blockade (anakinra) prevents neurotoxicity in mice",
              "CNS inflammation driven by IL-1 signalling"),
    Parameter("neurotoxicity_by_car_t", "1/day", 4.0, 0.0, 20.0,
              "[M] Gust 2017 Cancer Discov: neurotoxicity follows CAR-T expansion and endothelial activation; "
              "CAR-T cross the disrupted blood-brain barrier into the CSF (Santomasso 2018 Cancer Discov); [A] "
              "the main drive, so that ICANS severity follows the expansion; calibrated to the neuro_any and "
              "neuro_grade3 targets of ELIANA and JULIET",
              "CNS inflammation driven by expanded CAR-T across the activated endothelium"),
    Parameter("neurotoxicity_car_t_half", "cells", 5e11, 1e7, 1e12,
              "[A] a large expansion (peak above ~1e11 CAR-T) goes with severe neurotoxicity (Gust 2017); "
              "with neurotoxicity_by_car_t calibrated to eliana_neuro_grade3 and juliet_neuro_grade3",
              "whole-body CAR-T giving half-maximal CNS trafficking"),
    Parameter("neurotoxicity_recovery", "1/day", 0.15, 0.01, 10.0, "[A] ICANS lasts one to two weeks (JULIET: "
                                                                   "median 14 days, Schuster 2019 NEJM); "
                                                                   "calibrated to juliet_neuro_onset",
              "resolution of CNS inflammation"),
    # ---- drugs --------------------------------------------------------------------------------------
    Parameter("tocilizumab_clearance", "L/day", 0.3, 0.01, 5.0, "[M] Frey 2010 / Gibiansky 2012 popPK (verify)",
              "linear tocilizumab clearance"),
    Parameter("tocilizumab_central_volume", "L", 3.5, 1.0, 20.0, "[M] popPK", "central volume", group="dose"),
    Parameter("tocilizumab_peripheral_volume", "L", 3.0, 0.5, 20.0, "[M] popPK", "peripheral volume"),
    Parameter("tocilizumab_intercompartmental", "L/day", 0.4, 0.01, 5.0, "[M] popPK", "distribution clearance"),
    Parameter("tocilizumab_vmax", "mg/day", 7.0, 0.0, 100.0, "[M] popPK (target-mediated)",
              "maximal saturable elimination"),
    Parameter("tocilizumab_km", "mg/L", 0.4, 0.01, 20.0, "[M] popPK", "concentration of half-maximal saturable "
                                                                      "elimination"),
    Parameter("tocilizumab_kd", "mg/L", 0.37, 0.01, 10.0, "[M] K_D ~2.5 nM at 148 kDa",
              "concentration giving half IL-6 receptor occupancy"),
    Parameter("corticosteroid_elimination", "1/day", 4.2, 0.5, 20.0, "[M] dexamethasone half-life ~4 h",
              "corticosteroid elimination"),
    Parameter("corticosteroid_volume", "L", 56.0, 5.0, 200.0, "[M] 0.8 L/kg x 70 kg", "distribution volume",
              group="dose"),
    Parameter("corticosteroid_ic50", "mg/L", 0.01, 1e-4, 1.0, f"{_DEX} (10 ng/mL)",
              "dexamethasone-equivalent for half-maximal immunosuppression"),
    Parameter("corticosteroid_max_effect", "1", 0.9, 0.0, 1.0, _DEX, "maximal suppression"),
    Parameter("corticosteroid_on_proliferation", "1", 0.3, 0.0, 1.0,
              f"{_DEX}: steroids lower CAR-T expansion less than cytokines",
              "share of the steroid effect that acts on CAR-T proliferation"),
    Parameter("corticosteroid_on_killing", "1", 0.1, 0.0, 1.0, _DEX,
              "share of the steroid effect that acts on killing"),
    Parameter("anakinra_elimination", "1/day", 3.3, 0.5, 20.0, "[M] half-life 4-6 h", "anakinra elimination"),
    Parameter("anakinra_volume", "L", 18.0, 2.0, 100.0, "[A] ~0.25 L/kg", "anakinra distribution volume", group="dose"),
    Parameter("anakinra_ic50", "mg/L", 0.3, 1e-3, 10.0, "[A]", "anakinra for half IL-1 receptor blockade"),
    Parameter("ibrutinib_elimination", "1/day", 2.8, 0.5, 20.0, "[M] half-life 4-6 h", "ibrutinib elimination"),
    Parameter("ibrutinib_volume", "L", 10000.0, 100.0, 1e5, "[M] apparent V/F ~10,000 L",
              "apparent volume (oral dose in mg to plasma mg/L)", group="dose"),
    Parameter("btk_inactivation", "1/day", 20.0, 0.1, 200.0, "[A] covalent binding within hours",
              "maximal BTK inactivation rate"),
    Parameter("btk_inactivation_half", "mg/L", 0.005, 1e-5, 1.0, "[A]", "ibrutinib for half-maximal inactivation"),
    Parameter("btk_resynthesis", "1/day", 0.3, 0.01, 5.0, "[A]", "BTK resynthesis (loss of occupancy)"),
    Parameter("ibrutinib_homing_block", "1", 0.8, 0.0, 1.0, "[M] Wodarz 2014: redistribution lymphocytosis",
              "reduction of CLL homing to tissues at full BTK occupancy"),
    Parameter("ibrutinib_growth_block", "1", 0.5, 0.0, 1.0, "[M] Herndon 2017: proliferation falls on ibrutinib",
              "reduction of CLL proliferation at full BTK occupancy"),
    Parameter("ibrutinib_tcell_gain", "1", 0.3, 0.0, 2.0, "[M] Fraietta 2016 Blood; Gauthier 2020 Blood",
              "relative gain in CAR-T proliferation at full BTK occupancy"),
    Parameter("ibrutinib_cytokine_block", "1", 0.3, 0.0, 1.0, "[M] Gauthier 2020: less CRS with ibrutinib",
              "reduction of macrophage activation at full BTK occupancy"),
    Parameter("switch_drug_elimination", "1/day", 3.3, 0.5, 50.0, "[M] rimiducid half-life ~5 h",
              "suicide-switch drug elimination"),
    Parameter("switch_drug_volume", "L", 20.0, 1.0, 200.0, "[A]", "suicide-switch drug distribution volume",
              group="dose"),
    Parameter("switch_drug_ec50", "mg/L", 0.001, 1e-6, 1.0, "[A] Di Stasi 2011 NEJM (~1 ng/mL)",
              "drug concentration for half-maximal switch activation"),
    Parameter("switch_kill_rate", "1/day", 50.0, 0.0, 500.0, "[M] Di Stasi 2011: >90% within hours",
              "maximal elimination of switch-carrying CAR-T"),
    Parameter("lymphodepletion_elimination", "1/day", 0.83, 0.1, 10.0, "[M] fludarabine half-life ~20 h",
              "decay of lymphodepleting exposure"),
    # ---- clinical readouts and hazards (read at visits, not by the in-vivo kernel) -------------------
    Parameter("fever_max_rise", "degC", 3.0, 0.5, 5.0, "[A] CRS fevers reach 40-41 C (Lee 2019 BBMT)",
              "temperature rise above 37 C at saturating pyrogenic signalling", group="observable"),
    Parameter("fever_il6_half", "pg/mL", 200.0, 1.0, 1e4,
              "[A] calibrated to il6_peak_severe_vs_mild: fever (>= 38 C) from IL-6 signalling of ~100 pg/mL "
              "(mild CRS 10-100)", "IL-6 signalling above baseline giving half the maximal fever", group="observable"),
    Parameter("fever_il1_half", "pg/mL", 10.0, 0.1, 1e4, "[A] IL-1 is a direct pyrogen",
              "IL-1 signalling above baseline giving half the maximal fever", group="observable"),
    Parameter("hypotension_threshold", "1", 0.30, 0.0, 1.0, "[A] capillary leak scale (Gust 2017)",
              "endothelial activation at which hypotension needs fluids", group="observable"),
    Parameter("vasopressor_threshold", "1", 0.50, 0.0, 1.0,
              "[A] calibrated to il6_peak_severe_vs_mild (grade 3 at IL-6 peaks > 1000 pg/mL)",
              "endothelial activation at which hypotension needs one vasopressor", group="observable"),
    Parameter("multiple_vasopressor_threshold", "1", 0.62, 0.0, 1.0, "[A] as vasopressor_threshold",
              "endothelial activation at which hypotension needs several vasopressors", group="observable"),
    Parameter("hypoxia_threshold", "1", 0.35, 0.0, 1.0, "[A] pulmonary capillary leak",
              "endothelial activation at which low-flow oxygen is needed", group="observable"),
    Parameter("high_flow_oxygen_threshold", "1", 0.55, 0.0, 1.0, "[A] as vasopressor_threshold",
              "endothelial activation at which high-flow oxygen is needed", group="observable"),
    Parameter("positive_pressure_threshold", "1", 0.66, 0.0, 1.0, "[A] as vasopressor_threshold",
              "endothelial activation at which positive-pressure ventilation is needed", group="observable"),
    Parameter("tumor_cells_per_cm3", "cells/cm3", 1e9, 1e8, 1e10, "[M] 1 cm3 of tumour ~ 1e9 cells",
              "cell density of nodal and splenic CLL", group="observable"),
    Parameter("spleen_share", "1", 0.3, 0.0, 1.0, "[A] share of the node/spleen compartment in the spleen",
              "fraction of lymphoid-tissue CLL that sits in the spleen", group="observable"),
    Parameter("index_node_share", "1", 0.35, 0.01, 1.0,
              "[A] the six index nodes of iwCLL measurement hold about a third of nodal disease",
              "fraction of nodal CLL in the six largest (index) nodes", group="observable"),
    Parameter("largest_node_share", "1", 0.4, 1.0 / 6.0, 1.0,
              "[A] nodal CLL is uneven: the largest of the six index nodes holds 0.4 of their volume (about 2.4 "
              "times the mean), so a residual of some 1e10 nodal cells still measures above 1.5 cm",
              "share of the index nodes' tumour volume in the largest node (iwCLL CR and PD read it)",
              group="observable"),
    Parameter("marrow_nucleated_cells", "cells", 1e12, 1e11, 1e13, "[M] ~1.4e10 nucleated marrow cells per kg",
              "normal nucleated bone-marrow cells (denominator of marrow infiltration and MRD)", group="observable"),
    Parameter("platelets_normal", "1/uL", 250000.0, 1e5, 5e5, "[M] normal 150-400 x 10^9/L",
              "platelet count with a normal marrow", group="observable"),
    Parameter("hemoglobin_normal", "g/dL", 14.0, 10.0, 18.0, "[M] normal adult 12-17 g/dL", "haemoglobin, normal marrow",
              group="observable"),
    Parameter("hemoglobin_marrow_loss", "1", 0.4, 0.0, 1.0,
              "[A] anaemia deepens with marrow infiltration (Binet/Rai staging)",
              "fractional haemoglobin loss at full marrow infiltration", group="observable"),
    # Blood qPCR of the CAR transgene reports copies per ug of genomic DNA: CAR+ cells' share of the nucleated
    # blood cells, times the vector copies each carries, times the diploid genomes in 1 ug of DNA.
    Parameter("genomes_per_ug_dna", "cells/ug", 1.5e5, 1.4e5, 1.7e5,
              "[M] a diploid human genome weighs about 6.6 pg (2 x 3.1e9 bp x 650 Da), so 1 ug of genomic DNA "
              "holds ~1.5e5 cells' genomes (used to convert qPCR copies/ug to cells, Kunz 2020 Mol Ther Methods "
              "Clin Dev)", "diploid genomes (nucleated cells) in 1 ug of genomic DNA", group="observable"),
    Parameter("car_vector_copies_per_cell", "copies/cell", 2.0, 1.0, 5.0,
              "[A] lentiviral CAR products carry about 1-3 integrated vector copies per transduced cell; "
              "regulators expect under 5 (Kunz 2020 Mol Ther Methods Clin Dev measure VCN by qPCR)",
              "vector (transgene) copies per CAR+ cell (VCN)", group="observable"),
    Parameter("crs_grade4_death_rate", "1/day", 0.05, 0.0, 2.0,
              "[A] CRS deaths occur in <1-2% of CAR-T recipients, almost all after grade 4 CRS (Lee 2019 BBMT)",
              "death hazard while CRS is grade 4", group="hazard"),
    Parameter("icans_grade4_death_rate", "1/day", 0.05, 0.0, 2.0,
              "[A] fatal ICANS follows diffuse cerebral oedema (Gust 2017)", "death hazard while ICANS is grade 4",
              group="hazard"),
    Parameter("infection_death_rate", "1/year", 0.01, 0.0, 1.0,
              "[A] infection mortality of R/R CLL outside treatment, order of 1%/year",
              "infection death hazard with normal neutrophils and B cells", group="hazard"),
    Parameter("neutropenia_infection_factor", "1", 30.0, 1.0, 1000.0,
              "[A] severe neutropenia (< 500/uL) multiplies the infection risk (Hill 2018 Blood)",
              "infection hazard multiplier while neutrophils < 500/uL", group="hazard"),
    Parameter("b_cell_aplasia_infection_factor", "1", 2.0, 1.0, 100.0,
              "[A] hypogammaglobulinaemia from B-cell aplasia raises late infections (Hill 2018 Blood; "
              f"{_NCI})",
              "infection hazard multiplier during B-cell aplasia", group="hazard"),
    Parameter("background_mortality_at_70", "1/year", 0.02, 0.0, 0.5, "[M] US life tables: ~2%/year at age 70",
              "all-cause background death hazard at age 70", group="hazard"),
    Parameter("mortality_doubling_years", "years", 8.0, 4.0, 15.0, "[M] Gompertz law: mortality doubles every ~8 "
                                                                   "years",
              "years over which the background death hazard doubles", group="hazard"),
    Parameter("disease_death_rate", "1/year", 1.0, 0.0, 10.0,
              "[A] R/R CLL after BTKi and venetoclax: median survival about a year (double-refractory CLL) at "
              "an advanced burden (half this maximum at disease_death_burden); the hazard saturates because "
              "survival of the most advanced CLL is short but bounded, Binet stage C median ~2 years [M] "
              "(Binet 1981 Cancer)",
              "CLL death hazard before progression at a saturating burden (hazard = rate * B / (B + "
              "disease_death_burden))", group="hazard"),
    Parameter("disease_death_burden", "cells", 1e12, 1e10, 1e13, "[A] advanced R/R CLL burden (cll_tumor_burden)",
              "CLL burden at which the disease death hazard before progression is half disease_death_rate",
              group="hazard"),
    Parameter("post_progression_median_survival", "months", 12.0, 3.0, 120.0,
              "[A] next-line therapy after CAR-T failure once BTKi and venetoclax are spent (non-covalent BTKi, "
              "venetoclax retreatment, allo-SCT), for patients with a prior BTKi. Above the 3.6 months (95% CI "
              "2-11) after progression on the second targeted class in "
              "double class-resistant CLL, 88% with TP53 aberrations (Lew 2021 Blood Adv, n=17)",
              "median CLL survival from progression (iwCLL PD), when the CLL death hazard becomes the constant "
              "ln 2 / this median", group="hazard"),
    Parameter("post_progression_median_survival_btki_naive", "months", 67.7, 12.0, 120.0,
              "[M] RESONATE final analysis (Munir 2019 Am J Hematol): median OS 67.7 months on ibrutinib in "
              "relapsed/refractory CLL, the next line a BTKi-naive patient (the CTL019 era) gets after CAR-T "
              "failure", "median CLL survival from progression of a patient without a prior BTKi",
              group="hazard"),
    Parameter("btki_exposed", "1", 1.0, 0.0, 1.0, "set per patient from the population or scenario",
              "1 when the patient has had a BTK inhibitor, 0 when not (next-line therapy after progression)",
              group="hazard"),
)

Param = IntEnum("Param", [(p.name, i) for i, p in enumerate(PARAMETER_TABLE)])
Param.__doc__ = "Index of each parameter in the parameter array ``p[patient, parameter]``."

PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETER_TABLE)
N_PARAMS = len(PARAMETER_TABLE)
PARAMETERS = {p.name: p for p in PARAMETER_TABLE}
#: Per-lineage parameters: the kernel reads the CD8 value at the CD4 index + 1.
LINEAGE_PARAMETERS = ("proliferation", "memory_death", "effector_death", "cytotoxicity")
#: The kernel reads a site's access weight at access_blood + site (blood, marrow, node).
assert Param.access_node == Param.access_marrow + 1 == Param.access_blood + 2
for _stem in LINEAGE_PARAMETERS:
    assert Param[f"{_stem}_cd8"] == Param[f"{_stem}_cd4"] + 1, f"{_stem}_cd4/_cd8 must be adjacent"


def default_parameters() -> np.ndarray:
    """A fresh array of the default parameter values, in table order."""
    return np.array([p.default for p in PARAMETER_TABLE], dtype=np.float64)
