"""The ``cartsim`` command line: a thin caller of the Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import cartsim
from cartsim.io import Scenario, ScenarioError, load_scenario, write_outputs

app = typer.Typer(help="Mechanistic in-silico CAR-T cell therapy for chronic lymphocytic leukemia.",
                  no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

#: Usage errors (a bad scenario) exit with 2, like any other bad command-line input.
EXIT_BAD_SCENARIO = 2
EXIT_SIMULATION_FAILED = 1

_KEY_ENDPOINTS = {
    "car_t_peak_cells": "CAR-T peak (cells)",
    "car_t_peak_day": "CAR-T peak day",
    "car_t_expansion_fold": "CAR-T expansion (fold)",
    "tumor_cells_day0": "CLL cells, day 0",
    "tumor_cells_day28": "CLL cells, day 28",
    "tumor_cells_day365": "CLL cells, day 365",
    "tumor_extinct": "CLL extinct at end",
    "b_cell_aplasia_days": "B-cell aplasia (days)",
    "il6_peak_pg_ml": "IL-6 peak (pg/mL)",
    "crp_peak_mg_l": "CRP peak (mg/L)",
}


def _fail(message: str, code: int) -> typer.Exit:
    # Plain text: scenario messages contain brackets (parameter ranges) that rich would read as markup.
    errors.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise _fail(str(exc), EXIT_BAD_SCENARIO) from None


def _run(scenario: Scenario, out: Path) -> cartsim.SimulationResult:
    try:
        result = cartsim.simulate(scenario)
    except cartsim.SimulationError as exc:
        raise _fail(str(exc), EXIT_SIMULATION_FAILED) from None
    write_outputs(result, out)
    return result


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.3g}"


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result files.")],
) -> None:
    """Simulate one patient from SCENARIO and write summary.json, trajectories.parquet and overview.png to --out."""
    spec = _load(scenario)
    with console.status(f"Simulating '{spec.name}' for {spec.simulation.days} days…"):
        result = _run(spec, out)
    table = Table("endpoint", "value", title=spec.name)
    for key, label in _KEY_ENDPOINTS.items():
        table.add_row(label, _shown(result.summary[key]))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


def _demo_scenarios() -> dict[str, Scenario]:
    # Relative to the working directory: the demo runs from a checkout (`make demo`).
    files = sorted(Path("scenarios").glob("*.yaml"))
    if not files:
        return {"default": Scenario(name="default")}
    return {path.stem: _load(path) for path in files}


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for one sub-folder per scenario.")] = Path(
        "out/demo"),
) -> None:
    """Run every scenarios/*.yaml (or the default scenario if there are none) into --out/<scenario file name>/."""
    scenarios = _demo_scenarios()
    columns = ("car_t_peak_cells", "tumor_cells_day28", "tumor_extinct", "il6_peak_pg_ml")
    table = Table("scenario", *(_KEY_ENDPOINTS[key] for key in columns))
    with Progress(console=console) as progress:
        for name, spec in progress.track(scenarios.items(), total=len(scenarios), description="Simulating"):
            summary = _run(spec, out / name).summary
            table.add_row(name, *(_shown(summary[key]) for key in columns))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold] (one folder per scenario)")


@app.command()
def parameters(
    search: Annotated[str, typer.Argument(help="Show only parameters whose name contains this text.")] = "",
) -> None:
    """List the model parameters: name, units, default, plausible range and source."""
    from cartsim.model import PARAMETER_TABLE

    table = Table("name", "units", "default", "range", "source", title="cartsim model parameters")
    for p in PARAMETER_TABLE:
        if search in p.name:
            table.add_row(p.name, p.units, f"{p.default:g}", f"{p.low:g} – {p.high:g}", p.source)
    console.print(table)
