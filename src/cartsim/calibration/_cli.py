"""The `cartsim calibrate`, `cartsim validate` and `cartsim sensitivity` commands.

A bad targets file raises :class:`CalibrationError`, which the ``cartsim`` command reports in one line
(exit 2), as it does every user error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..report import shown
from ._targets import load_targets

console = Console()
_TARGETS_HELP = "Targets YAML (default: the vendored copy of shared/targets/calibration.yaml)."


def validate(
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False,
                                      help="Folder for validation.md/.json/.png.")] = Path("out/validation"),
    targets: Annotated[Path | None, typer.Option(help=_TARGETS_HELP)] = None,
    patients: Annotated[int | None, typer.Option(min=10, max=100_000,
                                                 help="Virtual patients per cohort arm (default: each cohort's).")
                        ] = None,
    parameters: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="A parameter-set file (cartsim calibrate --out) to validate instead of "
                                          "the shipped one.")] = None,
    blind: Annotated[bool, typer.Option("--blind", help=(
        "Also compare the blind targets (published results never fitted; --blind-targets, default the vendored "
        "blind.yaml) in a separate table, written to blind_validation.md/.json/.png."))] = False,
    blind_targets: Annotated[Path | None, typer.Option(help="Blind targets YAML for --blind (every entry marked "
                                                             "'blind: true').")] = None,
) -> None:
    """Compare the model with every published target: the table (markdown, JSON) and a figure; with --blind,
    the blind checks as well."""
    import cartsim

    from ._outputs import write_validation
    from ._targets import load_blind_targets
    from ._validate import cohorts_needed

    runs = [(False, targets, "cartsim validate")]
    if blind:
        load_blind_targets(blind_targets)  # a bad blind file fails before minutes of simulation
        runs.append((True, blind_targets, "cartsim validate: blind checks (never fitted)"))
    for is_blind, path, title in runs:
        loaded = load_blind_targets(path) if is_blind else load_targets(path)
        with Progress(console=console) as progress:
            task = progress.add_task("simulating the virtual cohorts", total=len(cohorts_needed(loaded)))
            table = cartsim.validate(path, parameters=parameters, patients=patients, blind=is_blind,
                                     progress=lambda name: progress.advance(task))
        content = write_validation(table, out, blind=is_blind)
        shown_table = Table("target", "disease", "target interval", "simulated", "agrees", title=title)
        for row in table[table["compared"]].itertuples(index=False):
            shown_table.add_row(row.id, row.disease, f"{shown(row.target_low)} – {shown(row.target_high)}",
                                shown(row.simulated), {True: "yes", False: "no"}.get(row.within, "—"))
        console.print(shown_table)
        what = "blind targets" if is_blind else "targets"
        by_disease = ", ".join(f"{d['disease']} {d['agree']} of {d['compared']}" for d in content["per_disease"])
        console.print(f"{content['agree']} of {content['compared']} compared {what} agree ({by_disease}).")
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


def calibrate(
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help=(
        "Folder for posterior.parquet, calibration.json, parameter_set.json, vpc.png and calibration.md (never "
        "the installed package)."))] = Path("out/calibration"),
    targets: Annotated[Path | None, typer.Option(help=_TARGETS_HELP)] = None,
    pool_size: Annotated[int, typer.Option(min=16, max=1_000_000, help="Plausible-patient pool per population.")
                         ] = 4096,
    trajectories: Annotated[int, typer.Option(min=2, max=100, help="Morris trajectories of the screening.")] = 4,
    screening_patients: Annotated[int, typer.Option(min=4, max=10_000, help="Patients per regimen at each "
                                                                            "screening point.")] = 32,
    walkers: Annotated[int, typer.Option(min=8, max=1000, help="emcee walkers.")] = 24,
    steps: Annotated[int, typer.Option(min=20, max=1_000_000, help="emcee steps (a third are burn-in).")] = 1200,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Local worker processes (default: one per "
                                                                     "core).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")] = None,
    reuse: Annotated[Path | None, typer.Option(exists=True, file_okay=False, help=(
        "An earlier calibration folder of the same model: reuse its screening and simulated pool, run only the "
        "inference (seconds instead of minutes)."))] = None,
) -> None:
    """Calibrate as inference: screen the candidates (Morris), simulate a plausible-patient pool, weight it to
    the targets and draw the posterior ensemble (emcee); write the ensemble, the per-target table, a visual
    predictive check and the parameter set at the posterior median into --out."""
    import os

    from ._calibrate import Settings
    from ._calibrate import calibrate as run

    from ._problem import PROBLEMS

    PROBLEMS["default"].check(load_targets(targets))  # a bad or blind targets file fails before anything is made
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"Not a directory: {out}", param_hint="--out")
    out.mkdir(parents=True, exist_ok=True)  # before the work: a bad --out fails in a second, not in minutes
    settings = Settings(pool_size=pool_size, trajectories=trajectories, screening_patients=screening_patients,
                        walkers=walkers, steps=steps, burn=steps // 3, thin=max(1, steps // 150))
    with Progress(console=console) as progress:
        tasks: dict[str, int] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        summary = run(out, settings, targets, workers=workers or os.cpu_count() or 1, scheduler=scheduler,
                      progress=advance, reuse=reuse)
    table = Table("target", "use", "published (95%)", "posterior predictive (95%)", title="cartsim calibrate")
    rows = [("fitted", r) for r in summary["targets"]] + [("held out", r) for r in summary["held_out"]["targets"]]
    for use, row in rows:
        low, high = row["predictive_interval"]
        table.add_row(f"{row['target']}:{row['category']}", use,
                      f"{shown(row['published'])} ({shown(row['published_interval'][0])}-"
                      f"{shown(row['published_interval'][1])})",
                      "—" if low is None else f"{shown(row['predictive_median'])} ({shown(low)}-{shown(high)})")
    console.print(table)
    for name, entry in summary["free"].items():
        console.print(f"free {name}: {shown(entry['median'])} ({shown(entry['interval'][0])}-"
                      f"{shown(entry['interval'][1])}), {'identified' if entry['identified'] else 'not identified'}")
    held = summary["held_out"]
    console.print(f"held-out coverage: {held['covered']} of {held['compared']}; "
                  f"{summary['seconds']['total']:.0f} s")
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


def sensitivity(
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False,
                                      help="Folder for sensitivity.csv/.json/.png.")] = Path("out/sensitivity"),
    n: Annotated[int, typer.Option("--n", min=4, max=1 << 16,
                                   help="Saltelli base samples (patients = n x (factors + 2)).")] = 256,
    days: Annotated[int, typer.Option(min=30, max=3650, help="Follow-up of each virtual patient.")] = 3650,
    seed: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Sobol indices (SALib) of CR, grade >= 3 CRS, CAR-T peak and persistence to patient characteristics
    and model parameters."""
    from ._sensitivity import FACTORS, plot_sensitivity, run_sensitivity

    total = n * (len(FACTORS) + 2)
    with Progress(console=console) as progress:
        task = progress.add_task(f"{total} virtual patients", total=total)
        indices, samples = run_sensitivity(n, days, seed, progress=lambda done: progress.advance(task, done))
    out.mkdir(parents=True, exist_ok=True)
    indices.to_csv(out / "sensitivity.csv", index=False)
    samples.to_parquet(out / "sensitivity_samples.parquet")
    (out / "sensitivity.json").write_text(indices.to_json(orient="records", indent=2) + "\n")
    plot_sensitivity(indices, out / "sensitivity.png")
    table = Table("endpoint", "mean", "top factors by total-order index (ST)", title="cartsim sensitivity")
    for endpoint, rows in indices.groupby("endpoint", sort=False):
        top = rows.sort_values("ST", ascending=False).head(3)
        table.add_row(endpoint, shown(rows["endpoint_mean"].iloc[0]),
                      ", ".join(f"{r.factor} {r.ST:.2f}" for r in top.itertuples()))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")
