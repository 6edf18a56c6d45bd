"""The in-vivo model: the right-hand side written once, for one patient, and its batched form.

``derivatives(y, p, dy, birth, loss)`` fills ``dy`` with the time derivatives
of one patient's state (see :mod:`._states`) under parameters ``p`` (see
:mod:`._parameters`). For the cell populations that the stochastic layer may
take over it also fills the per-capita ``birth`` and ``loss`` rates, so that
``dy[i] = inflow[i] + (birth[i] - loss[i]) * y[i]`` where the inflow comes from
other compartments. ``rhs(t, y, p, out)`` applies it to a batch.

Processes (sources are in the parameter table):

* CAR-T, CD4 and CD8, along an antigen-exposure chain (Kirouac 2023 toggle
  structure): resting cells with k completed exposures are activated by the
  targets they meet into effectors of exposure k+1; effectors run a programmed
  burst of divisions (Kaech & Ahmed 2001) whose size the cells' fitness and the
  product's senescence set, in a lymphoid niche shared with host T cells and
  boosted by IL-15 after lymphodepletion; they die, become senescent under
  stimulation at a co-stimulation-dependent rate growing with k, or rest when
  antigen is gone (a completed exposure; a co-stimulation-dependent fraction
  turns senescent). The burst shrinks with each completed exposure (Kay/Kenderian).
* Killing at each site: per-target rate ``w * gamma * P / (k_B + P + gamma * T / kills_per_effector)``
  with effector pressure P, the site's access weight w and its recognised
  targets T (Kimmel 2021 saturating law with effector saturation by the local
  effector:target ratio, so bulky nodes resist while blood clears).
* Removal of CAR-T by the suicide switch's drug and, for allogeneic cells, by host T cells
  as they recover from lymphodepletion (rejection).
* CLL: blood, marrow, node, antigen-positive and -negative clones, homing and
  egress, escape by antigen loss; normal B cells with marrow production
  suppressed by marrow CLL; host T cells (Kimmel Gompertz), IL-15 consumed by
  lymphocytes; neutrophils (reduced Friberg model).
* Cytokines: IFN-gamma from engaged CAR-T; macrophage activation mainly by
  CAR-T contact (CD40L, CD4 counting double), also by tumour death (DAMPs) and
  IFN-gamma, amplified by IL-1 (Santurio 2025), which then turn refractory for weeks (tolerance,
  ending the storm while CAR-T still expand); IL-6 and IL-1 from macrophages; IL-6 cleared partly
  through IL-6R, so tocilizumab raises free IL-6 while blocking its signal;
  CRP from IL-6 signalling; endothelial activation; CNS inflammation (ICANS) from expanded
  CAR-T and free IL-6 through the activated endothelium and from IL-1 (Gust 2017).
* Drugs: tocilizumab (two compartments, linear + saturable elimination),
  corticosteroid, anakinra, ibrutinib with covalent BTK occupancy, suicide
  switch drug, lymphodepleting chemotherapy exposure.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._parameters import Param as P
from ._states import CAR_T_STATES, CLL_STATES, DIVISION_STATES, LINEAGE_SIZE, N_CELL_STATES
from ._states import EXPOSURE_LEVELS as K
from ._states import State as S

_LINEAGE_SIZE = LINEAGE_SIZE  # resting_0..K-1, effector_0..K-1, senescent (see _states)
# Tuples are compile-time constants for numba.
_CAR_T = CAR_T_STATES
_CLL = CLL_STATES
_DIVISIONS_0 = DIVISION_STATES[0]  # lineage * K + k after it


@njit(cache=True, inline="always")
def _pos(x):
    return x if x > 0.0 else 0.0


@njit(cache=True, inline="always")
def _excess(x, baseline):
    """Smooth positive part of ``x - baseline``: cytokines sit at their baselines, and a kink
    there would make every step at steady state non-smooth for the solver."""
    d = x - baseline
    width = 1e-3 * baseline
    return 0.5 * (d + np.sqrt(d * d + width * width))


@njit(cache=True, inline="always")
def _hill(x, half):
    return x / (x + half)


@njit(cache=True, inline="always")
def _hill2(x, half):
    x2 = x * x
    return x2 / (x2 + half * half)


@njit(cache=True, inline="always")
def _hill3(x, half):
    x3 = x * x * x
    return x3 / (x3 + half * half * half)


@njit(cache=True, inline="always")
def _hill4(x, half):
    return _hill2(x * x, half * half)


@njit(cache=True)
def steroid_effect(y, p):
    """Fraction by which corticosteroids suppress cytokine production (and, partly, CAR-T)."""
    return p[P.corticosteroid_max_effect] * _hill(_pos(y[S.corticosteroid]), p[P.corticosteroid_ic50])


@njit(cache=True)
def cytokine_signals(y, p):
    """IL-6 and IL-1 receptor signalling above baseline, after tocilizumab and anakinra block their
    receptors, free IL-6 above baseline (what tocilizumab does not lower), and the IL-6 signal itself."""
    il6 = _pos(y[S.il6])
    il6_signal = il6 * (1.0 - _hill(_pos(y[S.tocilizumab_central]), p[P.tocilizumab_kd]))
    il1_signal = _pos(y[S.il1]) * (1.0 - _hill(_pos(y[S.anakinra]), p[P.anakinra_ic50]))
    return (_excess(il6_signal, p[P.il6_baseline]), _excess(il1_signal, p[P.il1_baseline]),
            _excess(il6, p[P.il6_baseline]), il6_signal)


@njit(cache=True, inline="always")
def _drug_effects(y, p):
    """IL-6 receptor blockade by tocilizumab, steroid suppression, BTK occupancy, lymphodepleting exposure, host
    T cells, and the removal rate of CAR-T by the suicide switch and by host rejection of allogeneic cells
    (Di Stasi 2011 NEJM: iCasp9; Benjamin 2020 Lancet: UCART19 rejection as host T cells recover)."""
    il6r_blocked = _hill(_pos(y[S.tocilizumab_central]), p[P.tocilizumab_kd])
    steroid = steroid_effect(y, p)
    btk = min(_pos(y[S.btk_occupancy]), 1.0)
    switch_kill = p[P.switch_fraction] * p[P.switch_kill_rate] * _hill(_pos(y[S.switch_drug]),
                                                                       p[P.switch_drug_ec50])
    chemo = _pos(y[S.lymphodepletion])
    host = _pos(y[S.host_t_cells])
    # Host T cells reject allogeneic CAR-T in proportion to their recovery from lymphodepletion.
    rejection = p[P.allogeneic_rejection] * host / p[P.host_t_capacity]
    return il6r_blocked, steroid, btk, chemo, host, switch_kill + rejection


@njit(cache=True, inline="always")
def _antigen(y, p):
    """Antigen the CAR-T see (site access weights; the antigen-low clone seen only by an OR-gate CAR) and the
    stimulation it gives (Kirouac 2023 Nat Biotechnol: saturating antigen drive)."""
    access_b = p[P.target_on_normal_b] * p[P.access_normal_b]
    # The antigen-negative/low clone: not enough antigen to drive a single-target CAR, fully seen by an
    # OR-gate CAR through its other antigen.
    low_stimulation = p[P.antigen_low_stimulation]
    antigen = (p[P.access_blood] * (_pos(y[S.cll_pos_blood]) + low_stimulation * _pos(y[S.cll_neg_blood]))
               + p[P.access_marrow] * (_pos(y[S.cll_pos_marrow]) + low_stimulation * _pos(y[S.cll_neg_marrow]))
               + p[P.access_node] * (_pos(y[S.cll_pos_node]) + low_stimulation * _pos(y[S.cll_neg_node]))
               + access_b * _pos(y[S.normal_b_cells]))
    return antigen, _hill(antigen, p[P.antigen_half_saturation])


@njit(cache=True, inline="always")
def _engagement(y, p, stim):
    """All CAR-T, their killing pressure, the engaged cells that secrete IFN-gamma and the contact that
    activates macrophages (CD40L: CD4 count double; senescent cells secrete, Kay/Kenderian ASH 2022)."""
    car_t = 0.0
    for i in _CAR_T:
        car_t += _pos(y[i])
    pressure = 0.0
    engaged = 0.0
    contact = 0.0
    senescent_kill = p[P.senescent_cytotoxicity]
    secretion = p[P.senescent_secretion]
    for lineage in range(2):
        base = lineage * _LINEAGE_SIZE
        effectors = 0.0
        for k in range(K):
            effectors += _pos(y[base + K + k])
        resting = 0.0
        for k in range(K):
            resting += _pos(y[base + k])
        senescent = _pos(y[base + 2 * K])
        pressure += p[P.cytotoxicity_cd4 + lineage] * (effectors + senescent_kill * senescent
                                                       + p[P.resting_cytotoxicity] * resting)
        engaged += effectors + secretion * senescent
        contact += (2.0 - lineage) * (effectors + secretion * senescent)  # CD40L: CD4 count double
    return car_t, pressure, engaged * stim, contact * stim


@njit(cache=True, inline="always")
def _killing(p, steroid, il6_excess):
    """Maximal per-target kill rate, slowed by steroids and raised by the storm's IL-6 signalling (a hypothesis
    from the Porter interview, CLL Society, "CAR-T Part 2"; off by default)."""
    kill_rate = p[P.max_kill_rate] * (1.0 - p[P.corticosteroid_on_killing] * steroid)
    # Bystander macrophage and NK cytotoxicity adds to the effector-limited CAR-T killing, not inside it.
    return kill_rate, 1.0 + p[P.inflammatory_killing_gain] * _hill(il6_excess, p[P.inflammatory_killing_il6_half])


@njit(cache=True, inline="always")
def _site_kill(p, kill_rate, inflammation, pressure, access, targets):
    """Per-target kill rate at one site (Kimmel 2021 Proc R Soc B saturating law) by the local effector:target
    ratio: the effectors reaching the site (``access`` x pressure) meet its reachable targets (``access`` x
    ``targets``), so a bulky node saturates its effectors while the blood, with few targets, clears."""
    return inflammation * access * kill_rate * pressure / (p[P.kill_half_saturation] + pressure
                                                           + kill_rate * targets / p[P.kills_per_effector])


@njit(cache=True, inline="always")
def _burst(p):
    """Divisions in a first-exposure burst: the infused cells' fitness (saturating above a healthy donor's) and
    the product's senescent share (which costs 4-1BB products, not CD28: Kay/Kenderian ASH 2022) set it."""
    fitness = p[P.tcell_fitness]
    half = p[P.burst_fitness_half]
    senescence_cost = _pos(1.0 - p[P.senescence_burst_cost] * p[P.product_senescent_fraction])
    return p[P.burst_divisions] * fitness * (1.0 + half) / (fitness + half) * senescence_cost


@njit(cache=True, inline="always")
def _car_t_chain(y, p, dy, birth, loss, stim, antigen, car_t, host, steroid, btk, car_t_removal):
    """CD4 and CD8 CAR-T along the antigen-exposure chain (Kirouac 2023 Nat Biotechnol toggle structure).

    Resting cells are activated by the targets they meet (per CAR-T cell) into effectors, which run a
    programmed burst (Kaech & Ahmed 2001 Nat Immunol): they divide while antigen engages them, in a niche
    shared with host T cells and boosted by lymphopenic IL-15, until their mean divisions since activation
    approach the burst size set by fitness; then they contract. Effectors die, turn senescent under
    stimulation (more with each exposure), or rest when antigen is gone (a completed exposure, a
    co-stimulation-dependent share turning senescent). Resting cells renew with IL-15."""
    rest = 1.0 - stim
    il15_ratio = _pos(y[S.il15]) / p[P.il15_baseline]
    niche = _pos(1.0 - (car_t + host) / p[P.lymphoid_capacity])
    expansion = (stim * p[P.costim_proliferation_factor] * niche
                 * (1.0 - p[P.corticosteroid_on_proliferation] * steroid)
                 * (1.0 + p[P.ibrutinib_tcell_gain] * btk)
                 * (1.0 + p[P.homeostatic_effector_gain] * _excess(il15_ratio, 1.0)))
    # Memory homeostasis (IL-15) fills the CAR-T's share of the memory niche, whatever the burst left.
    renewal = p[P.memory_renewal] * il15_ratio * rest * _pos(1.0 - car_t / p[P.car_t_memory_capacity])
    # A steep (Hill 4) trigger: T-cell activation is all-or-none per cell once enough targets are met.
    met = antigen / (car_t + 1.0) / p[P.activation_antigen_per_car_t]
    met4 = met * met * met * met
    activation = p[P.activation_rate] * met4 / (1.0 + met4)
    resting_exit = p[P.rest_rate] * rest
    sen_fraction = p[P.rest_senescence_fraction]
    burst = _burst(p)
    for lineage in range(2):
        base = lineage * _LINEAGE_SIZE
        growth = p[P.proliferation_cd4 + lineage] * expansion
        effector_death = p[P.effector_death_cd4 + lineage] * p[P.costim_effector_death_factor]
        memory_loss = (activation + p[P.memory_death_cd4 + lineage] + p[P.costim_memory_death_excess]
                       + car_t_removal)
        to_senescent = 0.0
        returning = 0.0  # effectors of the previous level coming to rest
        burst_k = burst
        for k in range(K):
            m = base + k
            e = base + K + k
            d = _DIVISIONS_0 + lineage * K + k
            # A steep (8th-power) end of the programme: full speed until the burst is nearly spent.
            spent = _pos(y[d]) / (_pos(y[e]) + 1.0) / (burst_k + 1e-12)
            spent2 = spent * spent
            spent4 = spent2 * spent2
            ended = spent4 * spent4 / (1.0 + spent4 * spent4)  # how far the programme is over
            sen_rate = p[P.senescence_rate] * (1.0 + k) * stim
            # Programmed contraction (Kaech & Ahmed 2001): once the burst is over most effectors die and a
            # few come to rest as memory, whether or not antigen is left; without antigen all may rest.
            to_rest = resting_exit + p[P.memory_formation] * ended
            birth[e] = growth * (1.0 - ended)
            loss[e] = effector_death + p[P.contraction_death] * ended + sen_rate + to_rest + car_t_removal
            dy[e] = activation * y[m] + (birth[e] - loss[e]) * y[e]
            # Each division adds one to the dividing cell's count and to its daughter's; activated cells
            # arrive with none. So the mean count grows at the division rate and is diluted by recruits.
            dy[d] = birth[e] * _pos(y[e]) + (birth[e] - loss[e]) * y[d]

            birth[m] = renewal
            loss[m] = memory_loss
            inflow_m = returning
            if k == K - 1:  # the top level also receives its own rested effectors
                inflow_m += (1.0 - sen_fraction) * to_rest * y[e]
            dy[m] = inflow_m + (renewal - memory_loss) * y[m]
            to_senescent += (sen_rate + sen_fraction * to_rest) * y[e]
            returning = (1.0 - sen_fraction) * to_rest * y[e]
            burst_k *= 1.0 - p[P.exposure_fitness_loss]
        s = base + 2 * K
        birth[s] = p[P.senescent_proliferation] * growth
        loss[s] = p[P.senescent_death] + car_t_removal
        dy[s] = to_senescent + (birth[s] - loss[s]) * y[s]


@njit(cache=True, inline="always")
def _recognised_cll(y, p, site):
    """CLL cells a CAR recognises at ``site`` (0 blood, 1 marrow, 2 node): the antigen-negative/low clone counts
    by its recognition."""
    return _pos(y[S.cll_pos_blood + site]) + p[P.antigen_low_recognition] * _pos(y[S.cll_neg_blood + site])


@njit(cache=True, inline="always")
def _cll_site_kill(y, p, kill_rate, inflammation, pressure, site):
    return _site_kill(p, kill_rate, inflammation, pressure, p[P.access_blood + site], _recognised_cll(y, p, site))


@njit(cache=True, inline="always")
def _cll(y, p, dy, birth, loss, kill_rate, inflammation, pressure, btk, chemo):
    """CLL in blood, marrow and nodes, antigen-positive and -negative clones: logistic growth, homing and
    egress (Wodarz 2014 Blood, ibrutinib redistribution), killing by the local effector:target ratio of each
    site, escape by antigen loss. Returns the cells killed per day."""
    low = p[P.antigen_low_recognition]
    # Blood, marrow, node: the recognised targets of each site saturate the effectors that reach it.
    kills = (_cll_site_kill(y, p, kill_rate, inflammation, pressure, 0),
             _cll_site_kill(y, p, kill_rate, inflammation, pressure, 1),
             _cll_site_kill(y, p, kill_rate, inflammation, pressure, 2))
    homing_block = 1.0 - p[P.ibrutinib_homing_block] * btk
    cll_total = 0.0
    for i in _CLL:
        cll_total += _pos(y[i])
    growth_block = (1.0 - p[P.ibrutinib_growth_block] * btk) * _pos(1.0 - cll_total / p[P.cll_capacity])
    to_marrow = p[P.cll_homing_marrow] * homing_block
    to_node = p[P.cll_homing_node] * homing_block
    death = p[P.cll_death] + p[P.cll_ld_sensitivity] * chemo
    escape = p[P.antigen_escape_rate]
    killed = 0.0
    for clone in range(2):
        blood = S.cll_pos_blood + 3 * clone
        marrow = blood + 1
        node = blood + 2
        birth[blood] = p[P.cll_birth_blood] * growth_block
        birth[marrow] = p[P.cll_birth_marrow] * growth_block
        birth[node] = p[P.cll_birth_node] * growth_block
        loss[blood] = death + to_marrow + to_node
        loss[marrow] = death + p[P.cll_egress_marrow]
        loss[node] = death + p[P.cll_egress_node]
        recognition = 1.0 if clone == 0 else low
        for site in range(3):
            loss[blood + site] += recognition * kills[site]
            killed += recognition * kills[site] * _pos(y[blood + site])
        if clone == 0:
            loss[blood] += escape
            loss[marrow] += escape
            loss[node] += escape
        dy[blood] = p[P.cll_egress_marrow] * y[marrow] + p[P.cll_egress_node] * y[node]
        dy[marrow] = to_marrow * y[blood]
        dy[node] = to_node * y[blood]
        if clone == 1:
            dy[blood] += escape * y[S.cll_pos_blood]
            dy[marrow] += escape * y[S.cll_pos_marrow]
            dy[node] += escape * y[S.cll_pos_node]
        for i in range(blood, node + 1):
            dy[i] += (birth[i] - loss[i]) * y[i]
    return killed


@njit(cache=True, inline="always")
def _normal_b_cells(y, p, dy, birth, loss, kill_rate, inflammation, pressure, chemo):
    """Normal B cells: marrow production suppressed by marrow CLL, killed by a CD19 CAR in blood and as
    precursors in the marrow, depleted by flu/cy. Returns the cells killed per day."""
    access_b = p[P.target_on_normal_b] * p[P.access_normal_b]
    normal_b = _pos(y[S.normal_b_cells])
    # B cells circulate with the blood's CLL: the leukaemic cells there saturate the same effectors.
    per_target = _site_kill(p, kill_rate, inflammation, pressure, access_b, normal_b + _recognised_cll(y, p, 0))
    marrow_cll = _pos(y[S.cll_pos_marrow]) + _pos(y[S.cll_neg_marrow])
    b = S.normal_b_cells
    birth[b] = 0.0
    loss[b] = p[P.b_cell_death] + p[P.b_cell_ld_sensitivity] * chemo + per_target
    production = p[P.b_cell_production] / (1.0 + marrow_cll / p[P.b_cell_marrow_suppression])
    precursor_survival = 1.0 / (1.0 + per_target * p[P.b_cell_precursor_residence])
    dy[b] = production * precursor_survival - loss[b] * y[b]
    return per_target * normal_b


@njit(cache=True, inline="always")
def _host_cells(y, p, dy, host, car_t, chemo):
    """Host T cells (Kimmel 2021 Gompertz regrowth after lymphodepletion), IL-15 consumed by lymphocytes, and
    neutrophils (reduced Friberg 2002 J Clin Oncol myelosuppression model)."""
    capacity = p[P.host_t_capacity]
    dy[S.host_t_cells] = (-p[P.host_t_regrowth] * host * np.log((host + car_t + 1.0) / capacity)
                          - p[P.host_t_ld_sensitivity] * chemo * host)
    il15_sinks = p[P.il15_clearance] + p[P.il15_consumption] * (host + car_t) / capacity
    dy[S.il15] = (p[P.il15_baseline] * (p[P.il15_clearance] + p[P.il15_consumption])
                  - il15_sinks * y[S.il15])
    precursors = y[S.neutrophil_precursors]
    maturation = p[P.neutrophil_maturation]
    feedback = (p[P.neutrophil_baseline] / (_pos(y[S.neutrophils]) + 1e6)) ** p[P.neutrophil_feedback]
    dy[S.neutrophil_precursors] = (maturation * feedback - maturation
                                   - p[P.neutrophil_ld_sensitivity] * chemo) * precursors
    dy[S.neutrophils] = maturation * precursors - p[P.neutrophil_clearance] * y[S.neutrophils]


@njit(cache=True, inline="always")
def _cytokines(y, p, dy, car_t, engaged, contact, killed, steroid, btk, il6r_blocked, il6_excess, il1_excess,
               il6_free_excess, ifng_excess):
    """IFN-gamma from engaged CAR-T; macrophage activation by tumour death, CAR-T contact, IFN-gamma and IL-1,
    then tolerance (Santurio 2025 PLOS Comput Biol); IL-6 partly cleared through its receptor, so tocilizumab
    raises free IL-6; CRP; endothelial activation; CNS inflammation behind the opened barrier (Gust 2017)."""
    dy[S.ifng] = (p[P.ifng_clearance] * (p[P.ifng_baseline] - y[S.ifng])
                  + p[P.ifng_production] * (1.0 - steroid) * engaged * 1e-9)
    # CAR-T-driven terms: contact needs billions of engaged CAR-T (half-maximal at 3e11), so CRS comes with
    # the expansion while years of low-level persistence leave cytokines at baseline.
    drive = (p[P.macrophage_activation_by_killing] * _hill2(killed, p[P.killing_half_activation])
             + p[P.macrophage_activation_by_contact] * _hill2(contact, p[P.contact_half_activation])
             + p[P.macrophage_activation_by_ifng] * _hill3(ifng_excess, p[P.ifng_half_activation]))
    # IL-1 amplifies what CAR-T start and cannot sustain a storm on its own (no loop without CAR-T).
    drive *= (1.0 + p[P.il1_amplification] * _hill(il1_excess, p[P.il1_half_activation]))
    drive *= p[P.cytokine_propensity] * (1.0 - steroid) * (1.0 - p[P.ibrutinib_cytokine_block] * btk)
    activated = y[S.macrophage_activation]
    tolerant = y[S.macrophage_tolerance]
    responsive = _pos(1.0 - activated - tolerant)
    tolerising = p[P.macrophage_tolerance_rate] * activated
    dy[S.macrophage_activation] = drive * responsive - p[P.macrophage_deactivation] * activated - tolerising
    dy[S.macrophage_tolerance] = tolerising - p[P.macrophage_tolerance_recovery] * tolerant
    il6_total_clearance = p[P.il6_clearance] + p[P.il6_receptor_clearance]
    dy[S.il6] = (p[P.il6_baseline] * il6_total_clearance + p[P.il6_production] * activated
                 - (p[P.il6_clearance] + p[P.il6_receptor_clearance] * (1.0 - il6r_blocked)) * y[S.il6])
    dy[S.il1] = p[P.il1_clearance] * (p[P.il1_baseline] - y[S.il1]) + p[P.il1_production] * activated
    dy[S.crp] = (p[P.crp_clearance] * (p[P.crp_baseline] - y[S.crp])
                 + p[P.crp_production] * _hill(il6_excess, p[P.crp_il6_half]))
    endo_drive = (p[P.endothelial_activation_by_il6] * _hill2(il6_excess, p[P.endothelial_il6_half])
                  + p[P.endothelial_activation_by_ifng] * _hill(ifng_excess, p[P.ifng_half_activation])
                  + p[P.endothelial_activation_by_il1] * _hill(il1_excess, p[P.il1_half_activation]))
    endo = y[S.endothelial_activation]
    dy[S.endothelial_activation] = endo_drive * (1.0 - endo) - p[P.endothelial_recovery] * endo
    # The activated endothelium opens the blood-brain barrier, steeply (Hill 4) once it passes a threshold:
    # severe neurotoxicity goes with severe endothelial activation, mild CRS with none (Gust 2017 Cancer Discov).
    # Behind it, expanded CAR-T, free IL-6 (which tocilizumab, hardly crossing the barrier, does not block) and
    # IL-1 drive the CNS inflammation.
    neuro = y[S.neuroinflammation]
    barrier = _hill4(_pos(endo), p[P.blood_brain_barrier_half])  # how far the blood-brain barrier is open
    neuro_drive = (p[P.neurotoxicity_by_endothelium]
                   + p[P.neurotoxicity_by_car_t] * _hill(car_t, p[P.neurotoxicity_car_t_half])
                   + p[P.neurotoxicity_by_il6] * _hill(il6_free_excess, p[P.neurotoxicity_il6_half])
                   + p[P.neurotoxicity_by_il1] * _hill(il1_excess, p[P.il1_half_activation])) * barrier * (1.0 - steroid)
    dy[S.neuroinflammation] = neuro_drive * (1.0 - neuro) - p[P.neurotoxicity_recovery] * neuro


@njit(cache=True, inline="always")
def _drugs(y, p, dy, chemo):
    """Drug PK (the drug table's ``pk`` parameters): tocilizumab in two compartments with linear and saturable
    elimination, first-order steroid, anakinra, ibrutinib with covalent BTK occupancy, the switch drug, and
    the lymphodepleting exposure."""
    tcz = _pos(y[S.tocilizumab_central])
    vc = p[P.tocilizumab_central_volume]
    q = p[P.tocilizumab_intercompartmental]
    tcz_c = y[S.tocilizumab_central]
    tcz_p = y[S.tocilizumab_peripheral]
    dy[S.tocilizumab_central] = (-(p[P.tocilizumab_clearance] * tcz_c + q * (tcz_c - tcz_p)
                                   + p[P.tocilizumab_vmax] * tcz / (p[P.tocilizumab_km] + tcz)) / vc)
    dy[S.tocilizumab_peripheral] = q * (tcz_c - tcz_p) / p[P.tocilizumab_peripheral_volume]
    dy[S.corticosteroid] = -p[P.corticosteroid_elimination] * y[S.corticosteroid]
    dy[S.anakinra] = -p[P.anakinra_elimination] * y[S.anakinra]
    ibrutinib = y[S.ibrutinib]
    dy[S.ibrutinib] = -p[P.ibrutinib_elimination] * ibrutinib
    dy[S.btk_occupancy] = (p[P.btk_inactivation] * _hill(_pos(ibrutinib), p[P.btk_inactivation_half])
                           * (1.0 - y[S.btk_occupancy]) - p[P.btk_resynthesis] * y[S.btk_occupancy])
    dy[S.switch_drug] = -p[P.switch_drug_elimination] * y[S.switch_drug]
    dy[S.lymphodepletion] = -p[P.lymphodepletion_elimination] * chemo


@njit(cache=True)
def derivatives(y, p, dy, birth, loss):
    """Fill ``dy`` (and the cell states' per-capita ``birth``/``loss``) for one patient: the mechanisms in turn."""
    il6r_blocked, steroid, btk, chemo, host, car_t_removal = _drug_effects(y, p)
    antigen, stim = _antigen(y, p)
    car_t, pressure, engaged, contact = _engagement(y, p, stim)
    il6_excess, il1_excess, il6_free_excess, _ = cytokine_signals(y, p)
    ifng_excess = _excess(_pos(y[S.ifng]), p[P.ifng_baseline])
    kill_rate, inflammation = _killing(p, steroid, il6_excess)
    _car_t_chain(y, p, dy, birth, loss, stim, antigen, car_t, host, steroid, btk, car_t_removal)
    cll_killed = _cll(y, p, dy, birth, loss, kill_rate, inflammation, pressure, btk, chemo)
    b_cells_killed = _normal_b_cells(y, p, dy, birth, loss, kill_rate, inflammation, pressure, chemo)
    killed = cll_killed + b_cells_killed
    _host_cells(y, p, dy, host, car_t, chemo)
    _cytokines(y, p, dy, car_t, engaged, contact, killed, steroid, btk, il6r_blocked, il6_excess, il1_excess,
               il6_free_excess, ifng_excess)
    _drugs(y, p, dy, chemo)


# Serial, like every batch loop of the engine: a parallel region per call costs more in thread wake-ups and
# spin-waits than the work of a call, so parallelism is across chunks of patients, in worker processes.
@njit(cache=True)
def rhs(t, y, p, out):
    """Batched right-hand side: ``out[i] = f(y[i], p[i])`` for every patient ``i``.

    The model is autonomous between doses, so ``t`` is accepted for the
    conventional signature and not used.
    """
    for i in range(y.shape[0]):
        birth = np.empty(N_CELL_STATES)
        loss = np.empty(N_CELL_STATES)
        derivatives(y[i], p[i], out[i], birth, loss)
