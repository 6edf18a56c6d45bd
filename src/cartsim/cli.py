"""The ``cartsim`` command line: a thin caller of the Python API.

Every command imports what it needs inside its function, and the ``lab`` and calibration commands are
loaded only when run (:class:`_Lazy`), so ``cartsim --help`` imports neither the engine nor pandas,
matplotlib, Dask or the web app.
"""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer
import typer.core
import typer.exceptions
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

import cartsim

#: Exit codes. A user error (bad scenario, option or output path) exits with 2, like any other bad
#: command-line input; a bug exits with EX_SOFTWARE of sysexits.h, its traceback in a log file.
EXIT_SIMULATION_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl+C

console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    # Plain text: scenario messages contain brackets (parameter ranges) that rich would read as markup.
    errors.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _validation_message(exc) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or exc.title}: {err['msg']} (got {err['input']!r})"
                     for err in exc.errors())


def _file_message(exc: OSError) -> str:
    """An OSError as its reason and path(s), e.g. 'Not a directory: out/x' (no errno, no traceback)."""
    paths = [str(path) for path in (exc.filename, exc.filename2) if path is not None]
    if not paths:
        return str(exc)
    return f"{exc.strerror or exc}: {' -> '.join(paths)}"


def _user_error(exc: Exception) -> tuple[str, int] | None:
    """The message and exit code of an error the user can act on; None for a bug."""
    # Imported here, not at the top: only a failing command needs them, and --help stays light.
    from pydantic import ValidationError

    from cartsim.calibration import CalibrationError
    from cartsim.patient import ParameterSetError
    from cartsim.report import ReportError

    if isinstance(exc, cartsim.SimulationError):
        return str(exc), EXIT_SIMULATION_FAILED
    if isinstance(exc, (cartsim.ScenarioError, ReportError, CalibrationError, cartsim.TrialError,
                        ParameterSetError)):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, ValidationError):
        return _validation_message(exc), EXIT_BAD_INPUT
    if isinstance(exc, OSError):  # an output path that cannot be written, a full disk...
        return _file_message(exc), EXIT_BAD_INPUT
    return None


def _one_line(exc: Exception) -> str:
    """'RuntimeError: first line of its message' (the rest is in the log)."""
    message = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _log_internal_error(exc: Exception) -> str:
    """Where the traceback of ``exc`` was written: a log file, or the terminal if no file could be."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"cartsim-error-{stamp}-{os.getpid()}.log"
    details = (f"cartsim {cartsim.__version__}, Python {sys.version.split()[0]}\n"
               f"command: {shlex.join(sys.argv)}\n\n" + "".join(traceback.format_exception(exc)))
    try:
        path.write_text(details)
    except OSError:
        # Nowhere to keep the details: they go to the terminal rather than be lost.
        errors.print(details, markup=False, highlight=False)
        return "the traceback above"
    return str(path)


class _ReportingGroup(typer.core.TyperGroup):
    """Runs every command (subcommands of ``study`` and ``lab`` too) so that no traceback reaches the user:
    a user error is one red line and exit 2 (1 for a failed simulation), a bug one line naming the log file
    that holds its traceback. It also holds the commands loaded only when run (:data:`_LAZY_COMMANDS`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for command in _LAZY_COMMANDS:
            self.add_command(command)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException, BrokenPipeError):
            raise  # typer's own: --help, usage errors, bad options, output piped into `head`
        except KeyboardInterrupt:
            raise _fail("interrupted", EXIT_INTERRUPTED) from None
        except Exception as exc:
            known = _user_error(exc)
            if known is not None:
                raise _fail(*known) from None
            where = _log_internal_error(exc)
            raise _fail(f"internal error: {_one_line(exc)}; details in {where}", EXIT_INTERNAL_ERROR) from None


class _Lazy(click.Command):
    """A command or group that the top-level help lists by name and one line, and whose module is imported
    only when it runs or shows its own help: ``load()`` returns the real click command."""

    def __init__(self, name: str, help: str, load):
        super().__init__(name, help=help)
        self._load = load

    def make_context(self, info_name, args, parent=None, **extra):
        # The real command parses the arguments, so the context (and what runs) is the real command's.
        return self._load().make_context(info_name, args, parent=parent, **extra)


def _lazy_command(module: str, function: str):
    """A loader of the typer command ``function`` of ``module``."""
    def load() -> click.Command:
        single = typer.Typer(add_completion=False)  # completion is the top-level command's
        single.command()(getattr(importlib.import_module(module), function))
        return typer.main.get_command(single)
    return load


def _lazy_group(module: str, attribute: str, help: str):
    """A loader of the typer group ``attribute`` of ``module``, shown with ``help``."""
    def load() -> click.Command:
        group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
        group.help = help
        return group
    return load


def _show_version(show: bool) -> None:
    if show:
        console.print(f"cartsim {cartsim.__version__}")
        raise typer.Exit()


app = typer.Typer(help="Mechanistic in-silico CAR-T cell therapy for chronic lymphocytic leukemia.",
                  no_args_is_help=True, cls=_ReportingGroup, pretty_exceptions_enable=False)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Mechanistic in-silico CAR-T cell therapy for chronic lymphocytic leukemia."""


ParameterSetOption = Annotated[Path | None, typer.Option(
    "--parameters", exists=True, dir_okay=False,
    help="A parameter-set file (cartsim calibrate --out) to use instead of the shipped one; the scenario's own "
         "parameter values win over the set's.")]


def _with_parameter_set(treatment, path: Path | None):
    """``treatment`` (a scenario or trial arm) with the model parameter values of the parameter set at
    ``path`` beneath its own (validated again, so every bound is checked)."""
    if path is None:
        return treatment
    values = {**cartsim.load_parameter_set(path)["parameters"], **treatment.parameters}
    return type(treatment).model_validate({**treatment.model_dump(), "parameters": values})


def _run(scenario, out: Path):
    result = cartsim.simulate(scenario)
    cartsim.write_outputs(result, out)
    return result


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="An output folder of simulate, trial, study or lab.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False,
                                             help="HTML file (default DIRECTORY/report.html).")] = None,
) -> None:
    """Write one self-contained HTML report (figures embedded, no network needed) of DIRECTORY."""
    from cartsim.report import write_report

    path = write_report(directory, out)
    console.print(f"Report written to [bold]{path.resolve()}[/bold]")


@app.command("export-sbml")
def export_sbml(
    out: Annotated[Path, typer.Argument(help="SBML file to write.", dir_okay=False)],
    scenario: Annotated[Path | None, typer.Option(help="Scenario of the patient (default: the default one, "
                                                       "product as specified).", exists=True, dir_okay=False)] = None,
    parameters: ParameterSetOption = None,
) -> None:
    """Write the deterministic in-vivo model of one patient as SBML Level 3 (states, parameters with units
    and sources, rate rules traced from the kernel, doses as events)."""
    from cartsim.interop import export_sbml as write_sbml

    import warnings

    spec = cartsim.load_scenario(scenario) if scenario is not None else None
    if parameters is not None:
        spec = _with_parameter_set(spec or cartsim.Scenario(), parameters)
    with console.status("Tracing the kernel and writing SBML…"), warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        path = write_sbml(out, spec)
    console.print(f"SBML written to [bold]{path.resolve()}[/bold] (SBML time 0 is the patient's start)")
    for note in notes:
        console.print(f"[yellow]{escape(str(note.message))}[/yellow]")


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for the result files.")],
    parameters: ParameterSetOption = None,
) -> None:
    """Simulate one patient from SCENARIO; write summary.json, trajectories.parquet, visits.parquet,
    overview.png and timeline.png to --out."""
    from cartsim.report import KEY_ENDPOINTS, shown

    spec = _with_parameter_set(cartsim.load_scenario(scenario), parameters)
    with console.status(f"Simulating '{spec.name}' for {spec.simulation.days} days…"):
        result = _run(spec, out)
    table = Table("endpoint", "value", title=spec.name)
    for key, label in KEY_ENDPOINTS.items():
        table.add_row(label, shown(result.summary[key]))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


def _demo_scenarios() -> dict:
    # Relative to the working directory: the demo runs from a checkout (`make demo`).
    files = sorted(Path("scenarios").glob("*.yaml"))
    if not files:
        return {"default": cartsim.Scenario(name="default")}
    return {path.stem: cartsim.load_scenario(path) for path in files}


DEMO_TRIAL = Path("scenarios/trials/cd28_vs_41bb.yaml")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False,
                                      help="Folder for the trial and one folder per scenario.")] = Path("out/demo"),
    n: Annotated[int | None, typer.Option("--n", min=1, help="Patients per arm of the demo trial.")] = None,
) -> None:
    """Run the default two-arm virtual trial (scenarios/trials/cd28_vs_41bb.yaml) into --out/trial/, then
    every scenarios/*.yaml into --out/<scenario file name>/, each with a self-contained report.html."""
    from cartsim.report import KEY_ENDPOINTS, shown, write_report

    if DEMO_TRIAL.exists():
        trial_out = out / "trial"
        if trial_out.exists():  # a demo is a fresh run: its previous output is replaced, not resumed
            shutil.rmtree(trial_out)
        _run_trial(cartsim.load_trial(DEMO_TRIAL), trial_out, n=n, workers=1)
        trial_report = write_report(trial_out)
    scenarios = _demo_scenarios()
    columns = ("car_t_peak_cells", "tumor_cells_day28", "crs_max_grade", "icans_max_grade", "best_response",
               "os_days")
    table = Table("scenario", *(KEY_ENDPOINTS[key] for key in columns))
    with Progress(console=console) as progress:
        for name, spec in progress.track(scenarios.items(), total=len(scenarios), description="Simulating"):
            summary = _run(spec, out / name).summary
            write_report(out / name)
            table.add_row(name, *(shown(summary[key]) for key in columns))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold] (trial/ and one folder per scenario, "
                  "each with its report.html)")
    if DEMO_TRIAL.exists():
        console.print(f"Trial report: [bold]{trial_report.resolve()}[/bold]")


@app.command()
def parameters(
    search: Annotated[str, typer.Argument(help="Show only parameters whose name contains this text.")] = "",
) -> None:
    """List the model parameters: name, units, default, plausible range, prior, group (who reads it) and source."""
    from cartsim.model import PARAMETER_TABLE

    from rich.table import Column

    # Names and priors whole (they are looked up and copied); the source wraps.
    table = Table(Column("name", no_wrap=True), "units", "default", "range", Column("prior", no_wrap=True), "group",
                  "source", title="cartsim model parameters")
    for p in PARAMETER_TABLE:
        if search in p.name:
            table.add_row(p.name, p.units, f"{p.default:g}", f"{p.low:g} – {p.high:g}", p.prior, p.group, p.source)
    console.print(table)


@app.command()
def trial(
    spec: Annotated[Path, typer.Argument(help="Trial YAML file.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False,
                                      help="Folder for patients/, summary.json and figures.")],
    n: Annotated[int | None, typer.Option("--n", min=1, max=10_000_000,
                                          help="Patients per arm (default: the file's patients_per_arm).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=256,
                                                help="Local worker processes (default: one per core).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish a run that was stopped in --out.")] = False,
    chunk_size: Annotated[int, typer.Option(min=1, max=100_000, help="Patients per chunk.")] = 250,
    parameters: ParameterSetOption = None,
    posterior: Annotated[Path | None, typer.Option(help=(
        "A calibration folder (cartsim calibrate --out), or 'shipped' for the package's: run the trial over draws "
        "of its posterior ensemble and give every endpoint a 95% prediction interval (parameter and sampling "
        "uncertainty)."))] = None,
    # cartsim.trial's DEFAULT_DRAWS, MIN_DRAWS, MAX_DRAWS, written out: importing it here would load the engine.
    draws: Annotated[int, typer.Option(min=2, max=1000, help="Posterior draws with --posterior.")] = 20,
) -> None:
    """Run a virtual trial: every arm on the same virtual patients, streamed to Parquet in chunks
    (resumable), then endpoints with 95% CIs, Kaplan-Meier curves, hazard ratios, responder analysis; with
    --posterior, over posterior draws with prediction intervals and the difference between arms."""
    options = dict(n=n, workers=workers or os.cpu_count() or 1, scheduler=scheduler, resume=resume,
                   chunk_size=chunk_size)
    if posterior is None:
        _run_trial(_trial_with_parameter_set(cartsim.load_trial(spec), parameters), out, **options)
        return
    if parameters is not None:
        raise typer.BadParameter("give --parameters or --posterior, not both", param_hint="--posterior")
    if str(posterior) != "shipped" and not posterior.is_dir():  # "shipped": cartsim.trial.SHIPPED
        raise typer.BadParameter(f"no such calibration folder: {posterior}", param_hint="--posterior")
    _run_posterior_trial(cartsim.load_trial(spec), posterior, draws, out, **options)


def _run_posterior_trial(design, posterior: Path, draws: int, out: Path, **options) -> dict:
    from cartsim.report import shown
    from cartsim.trial import run_posterior_trial

    with Progress(console=console) as progress:
        task = progress.add_task(f"trial '{design.name}' over {draws} posterior draws", total=None)
        _, summary = run_posterior_trial(design, posterior, out, draws=draws, progress=lambda done, total: progress.update(
            task, completed=done, total=total), **options)
    table = Table("arm", "n", "ORR (sampling CI; prediction interval)", "CR", "CRS >= 3",
                  title=f"{design.name}: endpoints over {summary['posterior']['draws']} posterior draws")

    def cell(e, key):
        low, high = e[key + "_ci"]
        pi = e.get(key + "_prediction_interval") or [None, None]
        return f"{shown(e[key])} ({shown(low)}-{shown(high)}; {shown(pi[0])}-{shown(pi[1])})"

    for name, e in summary["arms"].items():
        table.add_row(name, str(e["n"]), cell(e, "orr"), cell(e, "cr_rate"), cell(e, "crs_grade3plus_rate"))
    console.print(table)
    for pair, entry in summary["differences"].items():
        for key in ("orr", "cr_rate"):
            d = entry[key]
            pi = d["prediction_interval"] or [None, None]
            console.print(f"{pair}: {key} {shown(d['median'])} (95% prediction interval {shown(pi[0])} to {shown(pi[1])})")
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")
    return summary


def _trial_with_parameter_set(design, path: Path | None):
    """``design`` calibrated by the parameter set at ``path``: its populations and, beneath each arm's own
    overrides, its model parameters (the trial field ``parameters``)."""
    if path is None:
        return design
    return type(design).model_validate({**design.model_dump(), "parameters": str(path)})


def _run_trial(design, out: Path, **options) -> dict:
    import warnings

    from cartsim.report import shown
    from cartsim.trial import TrialWarning, run_trial, write_trial_outputs

    with Progress(console=console) as progress, warnings.catch_warnings():
        # A repaired folder (damaged chunks recomputed on --resume) is said in one line, not a warning dump.
        warnings.simplefilter("always", TrialWarning)
        show = warnings.showwarning
        warnings.showwarning = lambda message, category, *rest, **kw: (
            progress.console.print(f"[yellow]{escape(str(message))}[/yellow]") if issubclass(category, TrialWarning)
            else show(message, category, *rest, **kw))
        task = progress.add_task(f"trial '{design.name}'", total=None)
        patients = run_trial(design, out, progress=lambda done, total: progress.update(
            task, completed=done, total=total), **options)
    summary = write_trial_outputs(patients, design, out)
    table = Table("arm", "n", "ORR", "CR", "uMRD4 blood", "CRS >= 3", "ICANS >= 3", "median PFS (mo)",
                  "median OS (mo)", title=f"{design.name}: endpoints (95% CI)")
    for name, e in summary["arms"].items():
        rate = lambda key: f"{e[key]:.1%} ({e[key + '_ci'][0]:.0%}-{e[key + '_ci'][1]:.0%})"  # noqa: E731
        table.add_row(name, str(e["n"]), rate("orr"), rate("cr_rate"), rate("umrd4_blood_rate"),
                      rate("crs_grade3plus_rate"), rate("icans_grade3plus_rate"),
                      shown(e["median_pfs_months"]), shown(e["median_os_months"]))
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")
    return summary


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Model worker processes (runs at the same time).")] = 2,
    max_patients: Annotated[int, typer.Option(min=1, max=1_000_000, help="Most virtual patients (all arms) or "
                                                                         "mice in one run.")] = 2000,
    run_seconds: Annotated[float, typer.Option(min=1, max=86400, help="A run still going after this long is "
                                                                      "stopped.")] = 300.0,
    body_seconds: Annotated[float, typer.Option(min=1, max=3600, help="A request body still arriving this long "
                                                                       "after the server began to read it is cut "
                                                                       "off (408).")] = 10.0,
    parse_seconds: Annotated[float, typer.Option(min=1, max=3600, help="A request body that takes longer to parse "
                                                                        "and validate is refused (413).")] = 10.0,
    data_dir: Annotated[Path | None, typer.Option(help="Folder for the runs' files (default: a temporary folder, "
                                                       "removed at exit).", file_okay=False)] = None,
) -> None:
    """Start the web app: pick a patient, product and protocol, run one patient or a virtual trial with live
    progress, run the lab assays, download results. Open http://HOST:PORT/ in a browser."""
    import uvicorn

    from cartsim.web import ServerLimits, create_app

    limits = ServerLimits(workers=workers, max_patients=max_patients, run_seconds=run_seconds,
                          body_seconds=body_seconds, parse_seconds=parse_seconds)
    console.print(f"cartsim web app on [bold]http://{host}:{port}/[/bold] ({workers} model workers; Ctrl+C stops)")
    # Open progress streams would hold a graceful shutdown forever; 5 s, then they are closed.
    uvicorn.run(create_app(limits, data_dir), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=5)


study_app = typer.Typer(help="Ready-made in-silico studies.", no_args_is_help=True)
app.add_typer(study_app, name="study")
# Loaded when run: their modules import the engine, pandas and matplotlib (see _Lazy).
_LAB_HELP = "Lab assays (same model, other hosts): in-vitro repeated stimulation, NSG mouse xenograft."
_LAZY_COMMANDS = (
    _Lazy("lab", _LAB_HELP, _lazy_group("cartsim.lab._cli", "lab_app", _LAB_HELP)),
    # Calibration, validation and sensitivity live with their package; top-level commands here.
    _Lazy("calibrate", "Calibrate as inference: posterior ensemble, weighted virtual population, checks.",
          _lazy_command("cartsim.calibration._cli", "calibrate")),
    _Lazy("validate", "Compare the model with every published target: the table (markdown, JSON) and a figure.",
          _lazy_command("cartsim.calibration._cli", "validate")),
    _Lazy("sensitivity", "Sobol indices (SALib) of CR, grade >= 3 CRS, CAR-T peak and persistence.",
          _lazy_command("cartsim.calibration._cli", "sensitivity")),
)


@study_app.command("toci-timing")
def toci_timing(
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="Virtual patients per arm.")] = 200,
    seed: Annotated[int, typer.Option(min=0, help="Fixes the cohort and every random draw.")] = 0,
    days: Annotated[int, typer.Option(min=90, max=3650, help="Follow-up after infusion.")] = 365,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for the table and figure.")] = Path(
        "out/toci-timing"),
) -> None:
    """The same virtual patients under no, prophylactic, first-fever, CRS-2 and CRS-3 tocilizumab, with and
    without inflammation aiding killing; writes toci_timing.csv/.json and toci_timing.png to --out."""
    from cartsim.report import plot_toci_tradeoff
    from cartsim.studies import KILLING_ASSUMPTIONS, TOCI_ARMS, run_toci_timing

    runs = len(TOCI_ARMS) * len(KILLING_ASSUMPTIONS)
    with Progress(console=console) as progress:
        task = progress.add_task(f"{n} patients x {runs} arms", total=runs)
        table = run_toci_timing(n, seed, days, progress=lambda label: progress.advance(task))
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "toci_timing.csv", index=False)
    table.to_json(out / "toci_timing.json", orient="records", indent=2)
    plot_toci_tradeoff(table, out / "toci_timing.png")
    rates = {"crs_grade3plus_rate": "CRS >= 3", "crs_death_rate": "CRS deaths", "icans_grade3plus_rate": "ICANS >= 3",
             "response_day28_rate": "response d28", "cr_rate": "CR", "umrd4_blood_rate": "uMRD4 d90"}
    results = Table("assumption", "arm", *rates.values(), "CAR-T peak (median)",
                  title=f"Tocilizumab timing, {n} patients per arm")
    for row in table.to_dict("records"):
        results.add_row(row["assumption"], row["arm"], *(f"{row[key]:.1%}" for key in rates),
                      f"{row['car_t_peak_median']:.3g}")
    console.print(results)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


@study_app.command("efficacy-gap")
def efficacy_gap(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000, help="Virtual patients per counterfactual coalition "
                                                                  "(256 coalitions per disease compared).")] = 30,
    seed: Annotated[int, typer.Option(min=0, help="Fixes the patients and every random draw.")] = 0,
    days: Annotated[int, typer.Option(min=28, max=3650, help="Follow-up after infusion (best response).")] = 90,
    bootstrap: Annotated[int, typer.Option(min=1, max=100_000, help="Bootstrap resamples of the patients.")] = 400,
    intervention_patients: Annotated[int, typer.Option(min=1, max=100_000,
                                                       help="CLL patients per intervention arm.")] = 200,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for the table, figure and report "
                                                                         "section.")] = Path("out/efficacy-gap"),
) -> None:
    """The CR-rate gap between CLL and B-ALL, and CLL and LBCL, taken apart by counterfactual swaps of factor groups
    (exact Shapley attribution with bootstrap intervals), and which intervention closes most of it; writes
    efficacy_gap.csv/.json/.md/.png, coalitions.csv, interventions.csv and the HTML report (report.html) to --out."""
    from cartsim.report import write_report
    from cartsim.studies import (ATTRIBUTION_HEADER, GAP_COMPARISONS, attribution_rows, run_efficacy_gap,
                                 simulated_patients, write_efficacy_gap)

    total = simulated_patients(n, intervention_patients, GAP_COMPARISONS)
    with Progress(console=console) as progress:
        task = progress.add_task(f"{total} virtual patients", total=total)
        results = run_efficacy_gap(n, seed, days, bootstrap, intervention_patients,
                                   progress=lambda done: progress.advance(task, done))
    write_efficacy_gap(results, out)
    report = write_report(out)
    table = Table(*ATTRIBUTION_HEADER, title="CR gap: Shapley attribution")
    for row in attribution_rows(results["attribution"]):
        table.add_row(*row)
    console.print(table)
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]; report: [bold]{report.resolve()}[/bold]")
