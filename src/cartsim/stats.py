"""The statistics every analysis uses (trial endpoints, validation against targets, the studies, the
figures and the web charts), each from the library that defines it:

* :func:`wilson_interval`: the Wilson score interval of a proportion (statsmodels' ``proportion_confint``);
* :func:`bootstrap_interval`: a percentile bootstrap interval of any statistic of one or more samples
  (``scipy.stats.bootstrap``);
* :func:`kaplan_meier` and :func:`km_median`: Kaplan-Meier curves and their medians with the interval
  lifelines gives (the times where the pointwise 95% band of the curve crosses 0.5);
* :func:`cox_efron`: a Cox proportional-hazards fit (Efron ties) that scales to millions of patients;

and the conventions of a trial's patient frame (:func:`analysed`, :func:`arm_names`,
:func:`survival_months`, :func:`km_of`). Values not estimable are None, never NaN, so results are JSON-ready.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``successes / n``.

    Unlike the Wald interval it stays inside [0, 1] and is not degenerate at 0 or n successes.
    ``n == 0`` gives ``(nan, nan)`` (no information).
    """
    from statsmodels.stats.proportion import proportion_confint  # on use: statsmodels is slow to import

    successes, n = int(successes), int(n)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n; got {successes} of {n}")
    if n == 0:
        return (math.nan, math.nan)
    low, high = proportion_confint(successes, n, alpha=1.0 - confidence, method="wilson")
    # At 0 or n successes the bound is 0 or 1 exactly, not a rounding error away from it.
    return (0.0 if successes == 0 else float(low), 1.0 if successes == n else float(high))


def bootstrap_interval(statistic: Callable[..., np.ndarray], *samples: np.ndarray, n_resamples: int = 400,
                       seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples, axis=-1)``, each sample resampled on its own.

    ``statistic`` takes an ``axis`` argument (as ``np.median`` does). Samples of fewer than two values cannot
    be resampled into anything else: the interval is the point estimate.
    """
    from scipy.stats import bootstrap

    samples = tuple(np.asarray(sample, dtype=float) for sample in samples)
    if min(sample.size for sample in samples) < 2:
        value = float(statistic(*samples, axis=-1))
        return value, value
    result = bootstrap(samples, statistic, n_resamples=n_resamples, confidence_level=confidence,
                       method="percentile", random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def kaplan_meier(durations: np.ndarray, events: np.ndarray, label: str | None = None):
    """The Kaplan-Meier fit (lifelines ``KaplanMeierFitter``) of ``durations`` with ``events`` (False: censored)."""
    from lifelines import KaplanMeierFitter  # on use: lifelines is slow to import

    return KaplanMeierFitter().fit(durations, np.asarray(events, dtype=bool), label=label)


def km_median(kmf) -> tuple[float | None, list[float | None]]:
    """The median of a Kaplan-Meier fit and its 95% interval; None where not reached."""
    from lifelines.utils import median_survival_times

    ci = median_survival_times(kmf.confidence_interval_)
    return _finite_or_none(kmf.median_survival_time_), [_finite_or_none(v) for v in ci.iloc[0]]


# A trial's patient frame: one row per patient with ``arm``, ``solver_failed`` and per endpoint
# ``<endpoint>_days`` and ``<endpoint>_event``.

def arm_names(patients: pd.DataFrame) -> list[str]:
    """The arms, in order of first appearance."""
    return [str(arm) for arm in pd.unique(patients["arm"])]


def analysed(patients: pd.DataFrame) -> pd.DataFrame:
    """The patients the statistics use: all but those whose solver failed (their outcome is an artefact
    of the integration, not of the treatment)."""
    return patients[~patients["solver_failed"].astype(bool)]


def survival_months(frame: pd.DataFrame, endpoint: str) -> np.ndarray:
    """Months from infusion to the ``endpoint`` event or censoring; a patient who died while the product
    was made (a negative day) counts as an event at infusion (intention to treat)."""
    return np.maximum(frame[f"{endpoint}_days"].to_numpy(float), 0.0) / DAYS_PER_MONTH


def km_of(frame: pd.DataFrame, endpoint: str):
    """The Kaplan-Meier fit of ``endpoint`` (``pfs``, ``os``) over the patients of ``frame``, in months."""
    return kaplan_meier(survival_months(frame, endpoint), frame[f"{endpoint}_event"].to_numpy(bool), label=endpoint)



def cox_efron(durations: np.ndarray, events: np.ndarray, covariates: np.ndarray,
              max_iter: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Cox proportional-hazards coefficients (Efron ties) and their covariance, by Newton's method.

    The maximum-likelihood fit of lifelines' ``CoxPHFitter``, vectorised over patients: lifelines and
    statsmodels' ``PHReg`` loop in Python over distinct event times and take about a minute at 10^6
    patients; this is one sort and a few cumulative sums per iteration. ``covariates`` is ``[n, p]``.
    Raises ``np.linalg.LinAlgError`` when the information matrix is singular and ``ArithmeticError``
    when Newton's method does not converge.
    """
    order = np.argsort(-np.asarray(durations, dtype=float), kind="stable")
    t = np.asarray(durations, dtype=float)[order]
    x = np.asarray(covariates, dtype=float).reshape(len(t), -1)[order]
    event = np.asarray(events, dtype=bool)[order]
    # The risk set of a row (everyone with a time >= its own) is the prefix up to the last row tied with it.
    last = np.searchsorted(-t, -t, side="right")[event] - 1
    # Tied events are adjacent; Efron takes the k-th (from 0) of d tied events off the risk set by k/d.
    te = t[event]
    first = np.flatnonzero(np.r_[True, te[1:] != te[:-1]])
    tie = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(te)]))
    share = (np.arange(len(te)) - first[tie]) / np.bincount(tie)[tie]
    xe = x[event]
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        w = np.exp(x @ beta)
        wx = w[:, None] * x
        wxx = wx[:, :, None] * x[:, None, :]
        we, wxe, wxxe = w[event], wx[event], wxx[event]

        def at_risk(values, tied):  # per event: the risk-set sum less its Efron share of the tied events
            return (np.cumsum(values, axis=0)[last]
                    - share.reshape(-1, *[1] * (values.ndim - 1)) * np.add.reduceat(tied, first, axis=0)[tie])

        s0, s1, s2 = at_risk(w, we), at_risk(wx, wxe), at_risk(wxx, wxxe)
        mean = s1 / s0[:, None]
        gradient = (xe - mean).sum(axis=0)
        information = (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
        step = np.linalg.solve(information, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            return beta, np.linalg.inv(information)
    raise ArithmeticError("the Cox fit did not converge")
