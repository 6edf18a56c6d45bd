"""A calibration's visual predictive check (vpc.png) and its report (calibration.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..report import shown  # noqa: E402


def _rows(summary: dict) -> list[tuple[str, dict]]:
    return ([("fitted", row) for row in summary["targets"]]
            + [("held out", row) for row in summary["held_out"]["targets"]])


def plot_vpc(summary: dict, path: Path) -> Path:
    """Each target category on its own row: the published value and 95% interval (black), the posterior
    predictive median and 95% interval of a replicate study (blue: fitted, orange: held out)."""
    rows = _rows(summary)
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.4))
    for i, (use, row) in enumerate(rows):
        low, high = row["published_interval"]
        ax.plot([low, high], [i + 0.15] * 2, color="black", lw=2)
        ax.plot(row["published"], i + 0.15, "ks", ms=4)
        p_low, p_high = row["predictive_interval"]
        if p_low is not None:
            colour = "tab:blue" if use == "fitted" else "tab:orange"
            ax.plot([p_low, p_high], [i - 0.15] * 2, color=colour, lw=4, alpha=0.7)
            ax.plot(row["predictive_median"], i - 0.15, "o", color=colour, ms=4)
    ax.set_yticks(range(len(rows)), [f"{row['target']}:{row['category']} ({use})" for use, row in rows], fontsize=7)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=-0.05)
    ax.invert_yaxis()
    ax.set_xlabel("published (black) vs posterior predictive (colour): medians, 95% intervals")
    ax.set_title("cartsim calibrate: visual predictive check")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _interval(pair) -> str:
    return "—" if pair[0] is None else f"{shown(pair[0])} – {shown(pair[1])}"


def report_markdown(summary: dict) -> str:
    """The calibration report: free and fixed parameters, the target table, effective sample sizes, coverage."""
    lines = ["# cartsim calibrate", "", summary["method"] + ".", "",
             f"Run time {summary['seconds']['total']:.0f} s (screening {summary['seconds']['screening']:.0f} s, "
             f"pool {summary['seconds']['pool']:.0f} s, posterior {summary['seconds']['posterior']:.0f} s), "
             f"{summary['workers']} worker(s){', Dask ' + summary['scheduler'] if summary['scheduler'] else ''}.",
             "", "## Free parameters", "",
             "| parameter | prior | sourced value | posterior median (95%) | variance / prior | identified |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, e in summary["free"].items():
        lines.append(f"| `{name}` | {e['prior_scale']} {_interval(e['prior'])} | {shown(e['sourced_value'])} | "
                     f"{shown(e['median'])} ({_interval(e['interval'])}) | {e['posterior_to_prior_variance']:.2f} | "
                     f"{'yes' if e['identified'] else 'no'} |")
    lines += ["", "## Fixed parameters", "", "| parameter | value | why |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {shown(e['value'])} | {e['why']} |" for name, e in summary["fixed"].items()]
    lines += ["", "## Targets", "",
              "| target | use | likelihood | published (95%) | model median (95%) | predictive median (95%) | "
              "log-lik |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for use, row in _rows(summary):
        lik = "" if row["log_likelihood"] is None else f"{row['log_likelihood']:.2f}"
        lines.append(f"| `{row['target']}:{row['category']}` | {use} | {row['likelihood']} | "
                     f"{shown(row['published'])} ({_interval(row['published_interval'])}) | "
                     f"{shown(row['model_median'])} ({_interval(row['model_interval'])}) | "
                     f"{shown(row['predictive_median'])} ({_interval(row['predictive_interval'])}) | {lik} |")
    held = summary["held_out"]
    lines += ["", f"Held-out coverage: {held['covered']} of {held['compared']} held-out target categories "
                  f"reproduced ({held['rule']}). Held-out log-likelihoods are shown, never fitted.", "", "## Effective sample size of the pool weights", "",
              "| regimen | at the posterior median | min over the ensemble | median |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {e['at_posterior_median']:.0f} | {e['min']:.0f} | {e['median']:.0f} |"
              for name, e in summary["effective_sample_size"].items()]
    return "\n".join(lines) + "\n"
