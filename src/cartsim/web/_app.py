"""The FastAPI app of ``cartsim serve``: a single page, and a JSON API over the same code as the CLI.

Routes (every body is JSON unless said otherwise):

* ``GET /``: the page; ``GET /static/plotly.min.js``: Plotly.js from the installed plotly package;
* ``GET /api/options``: defaults and presets the page's forms offer, and the server's limits;
* ``GET /api/populations/{name}/patients/{index}``: one virtual patient of a population (``?seed=``);
* ``POST /api/yaml/{scenario|trial}`` (a body as the YAML file would hold it) and
  ``POST /api/parse/{scenario|trial}`` (YAML text): convert, validating;
* ``POST /api/runs/{kind}`` (kind ``patient``, ``trial``, ``restim`` or ``mouse``): start a run, 202; a
  trial with ``?posterior=shipped&draws=K`` runs over K draws of the shipped posterior (prediction intervals);
* ``GET /api/runs/{id}``: its state, and its result once done; ``GET /api/runs/{id}/events``: the state
  as server-sent events until it ends; ``DELETE /api/runs/{id}``: cancel; ``POST /api/runs/{id}/resume``:
  finish a stopped trial; ``GET /api/runs/{id}/files/{name}``: a result file.

A bad body is 422 with a message naming each field, the value and what was expected; a body over the
server's limit, or one that takes longer than ``parse_seconds`` to parse and validate, is 413; a body
still arriving after ``body_seconds`` is 408; a full server is 503. Bodies are parsed and validated in a
small thread pool, never on the event loop, so ``/api/health`` and running streams keep answering.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..io import DRUGS, PROTOCOL_PRESETS, Scenario, ScenarioError, to_yaml
from ..lab import MouseSettings, RestimSettings
from ..patient import DEFAULT_POPULATION, POPULATIONS, patient_fields, sample_population
from ..product import COSTIMULATION, PRODUCT_PRESETS
from ..report import KEY_ENDPOINTS, LABELS
from ..trial import DEFAULT_DRAWS, MAX_DRAWS, MIN_DRAWS, Trial
from ._limits import BodyLimit
from ._requests import (JSON_TYPE, SCHEMAS, YAML_TYPES, ServerLimits, media_type, parse_body, validate_run,
                        validated)
from ._runs import FILES, Run, RunBusy, Runs
from ._workers import RunFailed, RunStopped, WorkerPool

STATIC = files("cartsim.web") / "static"
_RUN_ID = re.compile(r"[0-9a-f]{32}")
#: Seconds between looks at a run's state while streaming it.
_EVENT_POLL_S = 0.1
_CONVERSIONS = {"scenario": Scenario, "trial": Trial}
DEFAULT_LIMITS = ServerLimits()
#: Threads that parse and validate request bodies (at most this many at once; the rest wait their turn).
_PARSE_THREADS = 2
#: Most problems listed in a 422 (a body of thousands of bad items would otherwise echo all of them).
_MAX_DETAIL_LINES = 50

#: The trial the page starts from: the seed articles' question of co-stimulation, 100 patients per arm.
DEFAULT_TRIAL = Trial(name="4-1BB vs CD28", patients_per_arm=100, follow_up_days=730,
                      arms=({"name": "4-1BB", "product": {"costimulation": "4-1BB"}},
                            {"name": "CD28", "product": {"costimulation": "CD28"}}))


def _plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


async def _body(request: Request, yaml: bool = False) -> tuple[str, bytes]:
    """The media type and bytes of a JSON body (or, with ``yaml``, a declared YAML one); the size and read
    time caps are BodyLimit's. Only JSON, or a YAML type, which a form or another site's page cannot send
    without a preflight this app never allows: such a page cannot start runs on a server a browser reaches."""
    media = media_type(request.headers.get("content-type"))
    if not (media == JSON_TYPE or (yaml and media in YAML_TYPES)):
        expected = f"{JSON_TYPE} or {', '.join(sorted(YAML_TYPES))}" if yaml else JSON_TYPE
        raise HTTPException(415, f"expected a {'JSON or YAML' if yaml else 'JSON'} body (Content-Type: {expected}); "
                                 f"got {media or 'none'}")
    return media, await request.body()


def _conversion(what: str):
    schema = _CONVERSIONS.get(what)
    if schema is None:
        raise HTTPException(404, f"no such conversion; expected one of {', '.join(_CONVERSIONS)}")
    return schema


def _unprocessable(request: Request, exc: ScenarioError) -> JSONResponse:
    lines = str(exc).split("\n")  # a heading, then one line per problem
    if len(lines) > _MAX_DETAIL_LINES + 2:
        lines = [*lines[:_MAX_DETAIL_LINES + 1], f"  ... and {len(lines) - 1 - _MAX_DETAIL_LINES} more"]
    return JSONResponse({"detail": "\n".join(lines)}, 422)


def _run(runs: Runs, run_id: str) -> Run:
    run = runs.get(run_id) if _RUN_ID.fullmatch(run_id) else None
    if run is None:
        raise HTTPException(404, f"no run {run_id!r} on this server")
    return run


def _options(limits: ServerLimits) -> dict:
    return {
        "version": __version__,
        "scenario": Scenario().model_dump(mode="json"),
        "trial": DEFAULT_TRIAL.model_dump(mode="json"),
        "restim": RestimSettings().model_dump(mode="json"),
        "mouse": MouseSettings().model_dump(mode="json"),
        "product_presets": PRODUCT_PRESETS,
        "protocol_presets": list(PROTOCOL_PRESETS),
        "populations": {name: population.description for name, population in POPULATIONS.items()},
        "default_population": DEFAULT_POPULATION,
        "costimulation": list(COSTIMULATION),
        "drugs": list(DRUGS),
        "endpoints": KEY_ENDPOINTS,
        "labels": LABELS,
        "posterior_draws": {"default": DEFAULT_DRAWS, "min": MIN_DRAWS, "max": MAX_DRAWS},
        "limits": {"max_patients": limits.max_patients, "run_seconds": limits.run_seconds,
                   "body_bytes": limits.body_bytes, "body_seconds": limits.body_seconds,
                   "parse_seconds": limits.parse_seconds},
    }


def create_app(limits: ServerLimits = DEFAULT_LIMITS, data_dir: Path | None = None) -> FastAPI:
    """The app, with ``limits.workers`` model workers and run folders under ``data_dir`` (default: a new
    temporary folder, removed at shutdown)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        root = Path(tempfile.mkdtemp(prefix="cartsim-serve-")) if data_dir is None else Path(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        pool = WorkerPool(limits.workers)
        app.state.runs = Runs(pool, root, limits)
        try:
            yield
        finally:
            parsers.shutdown(wait=False, cancel_futures=True)
            pool.close()
            if data_dir is None:
                shutil.rmtree(root, ignore_errors=True)

    # No /docs or /redoc: their pages load scripts from a CDN, and this app works offline; /openapi.json stays.
    app = FastAPI(title="cartsim", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Mechanistic in-silico CAR-T therapy for CLL: one patient, a virtual trial, the lab.")
    app.add_middleware(BodyLimit, max_bytes=limits.body_bytes, read_seconds=limits.body_seconds)
    app.add_exception_handler(ScenarioError, _unprocessable)
    parsers = ThreadPoolExecutor(_PARSE_THREADS, thread_name_prefix="cartsim-parse")

    async def off_loop(work, *args):
        """``work(*args)`` (parsing and validating a body) in a parse thread, within ``parse_seconds`` (413
        after: the thread finishes in the background, its work bounded by the body's size)."""
        try:
            return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(parsers, work, *args),
                                          limits.parse_seconds)
        except asyncio.TimeoutError:
            raise HTTPException(413, f"the body took longer than {limits.parse_seconds:g} s to read and validate; "
                                     "send a smaller one") from None
        except RecursionError:  # not expected after the depth limits; still a bad body, not a server fault
            raise ScenarioError("body: nested too deeply to validate") from None

    page_html = (STATIC / "index.html").read_text(encoding="utf-8")
    plotly_js, options_body = _plotly_js(), _options(limits)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return page_html

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> Response:
        return Response(plotly_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/api/health")
    def health(request: Request) -> dict:
        runs: Runs = request.app.state.runs
        return {"status": "ok", "workers": runs.pool.size, "busy_workers": runs.pool.busy, "active_runs": runs.active}

    @app.get("/api/options")
    def options() -> dict:
        return options_body

    @app.get("/api/populations/{name}/patients/{index}")
    def population_patient(name: str, index: int, seed: int = 0) -> dict:
        if name not in POPULATIONS:
            raise HTTPException(404, f"no population {name!r}; presets: {', '.join(POPULATIONS)}")
        if not (0 <= index < 10_000_000 and 0 <= seed < 2**63):
            raise HTTPException(422, f"index must be within [0, 1e7) and seed within [0, 2**63); got {index}, {seed}")
        row = sample_population(name, 1, seed, start=index).iloc[0]
        # The seed as text: it may pass 2**53, past which a JavaScript number loses digits.
        return {"patient": patient_fields(row), "seed": str(int(row["seed"]))}

    def converted(schema, media: str, body: bytes, what: str, to: str):
        request = validated(schema, parse_body(media, body, what), what)
        return to_yaml(request) if to == "yaml" else request.model_dump(mode="json")

    @app.post("/api/yaml/{what}", response_class=PlainTextResponse)
    async def as_yaml(what: str, request: Request) -> str:
        schema = _conversion(what)
        return await off_loop(converted, schema, *await _body(request), what, "yaml")

    @app.post("/api/parse/{what}")
    async def parse_yaml(what: str, request: Request) -> dict:
        """YAML text (sent as application/yaml, or another YAML media type; or JSON) to the validated JSON."""
        schema = _conversion(what)
        return await off_loop(converted, schema, *await _body(request, yaml=True), what, "json")

    @app.exception_handler(RunBusy)
    def busy(request: Request, exc: RunBusy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": "5"})

    @app.post("/api/runs/{kind}", status_code=202)
    async def start(kind: str, request: Request) -> dict:
        if kind not in SCHEMAS:
            raise HTTPException(404, f"no kind of run {kind!r}; expected one of {', '.join(SCHEMAS)}")
        query = dict(request.query_params)  # a trial's posterior draws

        def checked(media: str, body: bytes) -> dict:
            return validate_run(kind, parse_body(media, body, kind), limits, query).model_dump(mode="json")

        return request.app.state.runs.submit(kind, await off_loop(checked, *await _body(request))).status()

    @app.get("/api/runs/{run_id}")
    def run_status(run_id: str, request: Request) -> dict:
        run = _run(request.app.state.runs, run_id)
        return {**run.status(), "result": run.result if run.state == "done" else None}

    @app.get("/api/runs/{run_id}/events", response_class=EventSourceResponse)
    async def run_events(run_id: str, request: Request):
        run = _run(request.app.state.runs, run_id)
        seen = -1
        while True:
            if run.version != seen:
                seen = run.version
                status = run.status()
                yield ServerSentEvent(event="status", data=status)
                if run.finished:
                    return
            if await request.is_disconnected():
                return
            await asyncio.sleep(_EVENT_POLL_S)

    @app.delete("/api/runs/{run_id}")
    def cancel(run_id: str, request: Request) -> dict:
        run = _run(request.app.state.runs, run_id)
        request.app.state.runs.cancel(run)
        return run.status()

    @app.post("/api/runs/{run_id}/resume", status_code=202)
    def resume(run_id: str, request: Request) -> dict:
        runs: Runs = request.app.state.runs
        run = _run(runs, run_id)
        if run.kind != "trial" or run.state not in ("cancelled", "failed"):
            raise HTTPException(409, f"only a cancelled or failed trial can be resumed; this is a {run.state} {run.kind}")
        runs.resume(run)
        return run.status()

    @app.get("/api/runs/{run_id}/files/{name}")
    async def download(run_id: str, name: str, request: Request) -> Response:
        runs: Runs = request.app.state.runs
        run = _run(runs, run_id)
        if name not in FILES[run.kind]:
            raise HTTPException(404, f"no file {name!r} for a {run.kind} run; files: {', '.join(FILES[run.kind])}")
        if run.state != "done":
            raise HTTPException(409, f"the run is {run.state}; its files come when it is done")
        if not run.available(name):
            raise HTTPException(404, f"this run wrote no {name}")
        path = run.directory / name
        if name == "report.html":
            try:
                path = await asyncio.to_thread(runs.report, run)
            except (RunFailed, RunStopped) as exc:
                raise HTTPException(500, f"the report could not be made: {exc}") from None
        elif not path.exists():  # a CSV made from its Parquet twin
            table = await asyncio.to_thread(lambda: pd.read_parquet(path.with_suffix(".parquet")).to_csv(index=False))
            return Response(table, media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return FileResponse(path, filename=name)

    return app
