"""The web app's API: the same schemas and code as the CLI, clear 422s, caps on bodies, patients and run
time, no client paths, cancellation that keeps what was written, and a server that stays responsive."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

import cartsim
from cartsim.io._strict import _MAX_ECHOED
from cartsim.io import Scenario, load_scenario
from cartsim.patient import PARAMETER_SET_FORMAT
from cartsim.trial import RATES, SHIPPED, Trial, run_posterior_trial, run_trial
from cartsim.web import ServerLimits, create_app
from web_server import LiveServer

TERMINAL = ("done", "failed", "cancelled")
SHORT_PATIENT = {"name": "api patient", "product": {"preset": "liso-cel"}, "simulation": {"days": 120, "seed": 3}}
SMALL_TRIAL = {"name": "small", "patients_per_arm": 12, "follow_up_days": 180,
               "arms": [{"name": "4-1BB"}, {"name": "CD28", "product": {"costimulation": "CD28"}}]}
YAML = {"content-type": "application/yaml"}
#: A trial over posterior draws kept to seconds: 2 draws of 2 x 4 patients followed for 60 days.
POSTERIOR = {"posterior": "shipped", "draws": 2}
POSTERIOR_TRIAL = {**SMALL_TRIAL, "patients_per_arm": 4, "follow_up_days": 60}
#: As long a trial as the default cap allows: it runs for many seconds on one core.
LONG_TRIAL = {"name": "long", "patients_per_arm": 1000, "follow_up_days": 3650,
              "arms": [{"name": "a"}, {"name": "b", "product": {"costimulation": "CD28"}}]}


def wait(client, run_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["state"] in TERMINAL:
            return run
        time.sleep(0.1)
    raise TimeoutError(run_id)


def finished(client, kind: str, body: dict) -> dict:
    response = client.post(f"/api/runs/{kind}", json=body)
    assert response.status_code == 202, response.text
    run = wait(client, response.json()["id"])
    assert run["state"] == "done", run["message"]
    return run


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(ServerLimits(workers=2), tmp_path_factory.mktemp("runs"))) as client:
        yield client


@pytest.fixture(scope="module")
def patient_run(client):
    return finished(client, "patient", SHORT_PATIENT)


def test_options_offer_valid_defaults_presets_and_limits(client):
    options = client.get("/api/options").json()
    assert Scenario.validated(options["scenario"]) == Scenario()
    assert Trial.validated(options["trial"]).arms[1].product.costimulation == "CD28"
    assert {"liso-cel", "tisa-cel", "allo-cd19"} <= set(options["product_presets"])
    assert "standard" in options["protocol_presets"] and options["limits"]["max_patients"] == 2000


def test_the_page_and_plotly_come_from_this_server(client):
    import plotly

    page = client.get("/").text
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
    assert sources and all(source.startswith("/static/") for source in sources)  # nothing from another host
    served = client.get("/static/plotly.min.js")
    assert served.content == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 404 and "/api/runs/{kind}" in client.get("/openapi.json").json()["paths"]


def test_a_patient_run_is_the_cli_simulation(patient_run):
    # The web app calls cartsim.simulate: the same endpoints as the Python API, to the last digit.
    direct = cartsim.simulate(Scenario.validated(SHORT_PATIENT))
    summary = patient_run["result"]["summary"]
    for key in ("car_t_peak_cells", "car_t_peak_day", "crs_max_grade", "best_response", "il6_peak_pg_ml",
                "product_dose_cells"):
        assert summary[key] == direct.summary[key], key
    assert len(patient_run["result"]["events"]) == len(direct.events)
    figures = patient_run["result"]["figures"]
    assert set(figures) == {"car_t", "tumor", "b_cells", "storm"}
    assert figures["storm"]["layout"]["yaxis"]["type"] == "log"


def test_a_patient_run_downloads_its_files(client, patient_run, tmp_path):
    files = f"/api/runs/{patient_run['id']}/files"
    text = client.get(f"{files}/scenario.yaml").text
    (tmp_path / "scenario.yaml").write_text(text)
    assert load_scenario(tmp_path / "scenario.yaml") == Scenario.validated(SHORT_PATIENT)  # round-trips
    parquet = client.get(f"{files}/trajectories.parquet")
    (tmp_path / "t.parquet").write_bytes(parquet.content)
    (tmp_path / "t.csv").write_bytes(client.get(f"{files}/trajectories.csv").content)
    frame, csv = pd.read_parquet(tmp_path / "t.parquet"), pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame)
    assert frame["day"].iloc[0] < 0 and frame["day"].iloc[-1] == 120  # daily, from apheresis to the end
    assert json.loads(client.get(f"{files}/summary.json").text)["scenario"]["name"] == "api patient"
    report = client.get(f"{files}/report.html")
    assert report.status_code == 200 and "data:image/png;base64," in report.text
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", report.text)  # self-contained


@pytest.mark.parametrize("kind, body, named", [
    ("patient", {"product": {"dose_cells": -1}}, "product.dose_cells = -1"),
    ("patient", {"schedule": [{"drug": "aspirin", "day": 0, "dose": 1}]}, "schedule.0.drug = 'aspirin'"),
    ("patient", {"product": {"preset": "nope"}}, "unknown product preset 'nope'"),
    ("patient", {"protocol": [{"when": "crs_grade >=", "give": "tocilizumab", "dose_mg": 8}]}, "protocol.0.when"),
    ("patient", {"out": "/etc/passwd"}, "out = '/etc/passwd': Extra inputs are not permitted"),
    ("patient", [1, 2], "expected a mapping of fields, got list"),
    ("trial", {**SMALL_TRIAL, "patients_per_arm": 1500}, "patients_per_arm = 1500: this server runs at most 2000"),
    ("trial", {**SMALL_TRIAL, "population": "martians"}, "unknown population 'martians'"),
    ("restim", {"rounds": 0}, "rounds = 0: Input should be greater than or equal to 1"),
    ("restim", {"costimulations": ["CD28", "CD28"]}, "costimulations must be distinct"),
    ("mouse", {"mice": 1000}, "mice = 1000: this server runs at most 2000 mice"),
])
def test_a_bad_request_is_422_naming_the_field(client, kind, body, named):
    response = client.post(f"/api/runs/{kind}", json=body)
    assert response.status_code == 422
    assert named in response.json()["detail"], response.json()["detail"]


def test_a_body_that_is_not_json_is_422_and_one_not_sent_as_json_415(client):
    response = client.post("/api/runs/patient", content=b"{name: unquoted", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    # A form or plain-text post (what another site's page could send without asking) starts nothing.
    response = client.post("/api/runs/patient", content=b"{}", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    assert client.get("/api/health").json()["active_runs"] == 0


def test_a_huge_body_is_413_declared_or_streamed(client):
    declared = client.post("/api/runs/patient", content=b" " * 1_000_001)
    assert declared.status_code == 413 and "at most 1000000 bytes" in declared.json()["detail"]
    streamed = client.post("/api/runs/patient", content=(b" " * 100_000 for _ in range(20)),  # chunked, no length
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413


@pytest.mark.parametrize("path", [
    "/api/runs/..%2F..%2Fetc%2Fpasswd", "/api/runs/0123456789abcdef0123456789abcdef",
    "/api/runs/0123456789abcdef0123456789abcdef/files/summary.json",
])
def test_unknown_runs_are_404(client, path):
    assert client.get(path).status_code == 404


def test_an_unknown_kind_of_run_is_404_naming_the_kinds(client):
    response = client.post("/api/runs/surgery", json={})
    assert response.status_code == 404 and "patient, trial, restim, mouse" in response.json()["detail"]


@pytest.mark.parametrize("name", ["..%2Fsummary.json", "trial.json", "report.html%00", "%2Fetc%2Fpasswd", "overview.png"])
def test_only_the_kinds_own_files_download(client, patient_run, name):
    response = client.get(f"/api/runs/{patient_run['id']}/files/{name}")
    assert response.status_code == 404


def test_a_run_lists_only_the_files_it_can_give(client, patient_run):
    assert set(patient_run["files"]) == {"summary.json", "trajectories.parquet", "trajectories.csv", "visits.parquet",
                                         "visits.csv", "scenario.yaml", "report.html"}
    # Too few patients for the responder analysis: no responders.csv, so none is offered.
    tiny = finished(client, "trial", {**SMALL_TRIAL, "patients_per_arm": 3, "follow_up_days": 60})
    assert "responders.csv" not in tiny["files"] and "patients.csv" in tiny["files"]
    assert client.get(f"/api/runs/{tiny['id']}/files/responders.csv").status_code == 404


def test_yaml_conversions_validate_both_ways(client):
    text = client.post("/api/yaml/trial", json=SMALL_TRIAL).text
    assert Trial.validated(yaml.safe_load(text)) == Trial.validated(SMALL_TRIAL)
    parsed = client.post("/api/parse/scenario", content=b"patient: {age_years: 70}\n", headers=YAML).json()
    assert Scenario.validated(parsed).patient.age_years == 70
    bad = client.post("/api/parse/scenario", content=b"patient: {age_years: 0}\n", headers=YAML)
    assert bad.status_code == 422 and "patient.age_years = 0" in bad.json()["detail"]
    assert client.post("/api/parse/scenario", content=b"a: [", headers=YAML).status_code == 422


def test_a_population_patient_is_the_trials_patient(client):
    drawn = client.get("/api/populations/rr_cll_post_btki_venetoclax/patients/5", params={"seed": 9}).json()
    from cartsim.patient import patient_fields, sample_population

    row = sample_population("rr_cll_post_btki_venetoclax", 6, 9).iloc[5]
    assert drawn["patient"] == patient_fields(row) and drawn["seed"] == str(int(row["seed"]))
    assert client.get("/api/populations/martians/patients/0").status_code == 404


def test_a_trial_streams_its_progress_and_equals_the_cli_trial(client, tmp_path):
    run_id = client.post("/api/runs/trial", json=SMALL_TRIAL).json()["id"]
    states = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                states.append(json.loads(line[5:]))
    # 12 patients per arm in chunks of 2 (a tenth of an arm, rounded up): 6 chunks per arm
    assert states[-1]["state"] == "done" and states[-1]["done"] == states[-1]["total"] == 12
    progress = [s["done"] for s in states]
    assert progress == sorted(progress) and len(set(progress)) > 2  # it moved while we watched
    run = client.get(f"/api/runs/{run_id}").json()
    assert set(run["result"]["summary"]["arms"]) == {"4-1BB", "CD28"}
    assert set(run["result"]["figures"]) == {"rates", "km_pfs", "km_os"}
    (tmp_path / "web.parquet").write_bytes(client.get(f"/api/runs/{run_id}/files/patients.parquet").content)
    web = pd.read_parquet(tmp_path / "web.parquet")
    cli = run_trial(Trial.validated(SMALL_TRIAL), tmp_path / "cli", chunk_size=7)  # another chunking
    pd.testing.assert_frame_equal(web.reset_index(drop=True), cli.reset_index(drop=True))


def test_a_cancelled_trial_keeps_its_chunks_and_resumes(client):
    trial = {**LONG_TRIAL, "patients_per_arm": 100, "follow_up_days": 1460}
    run_id = client.post("/api/runs/trial", json=trial).json()["id"]
    while client.get(f"/api/runs/{run_id}").json()["done"] < 2:
        time.sleep(0.05)
    assert client.delete(f"/api/runs/{run_id}").status_code == 200
    stopped = wait(client, run_id)
    assert stopped["state"] == "cancelled"
    assert client.get(f"/api/runs/{run_id}/files/patients.parquet").status_code == 409  # not done
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 202
    resumed = wait(client, run_id)
    assert resumed["state"] == "done", resumed["message"]
    assert {arm: e["n"] for arm, e in resumed["result"]["summary"]["arms"].items()} == {"a": 100, "b": 100}


def test_a_trial_over_the_shipped_posterior_is_the_cli_posterior_trial(client, tmp_path):
    response = client.post("/api/runs/trial", params=POSTERIOR, json=POSTERIOR_TRIAL)
    assert response.status_code == 202, response.text
    run = wait(client, response.json()["id"])
    assert run["state"] == "done", run["message"]
    # Progress counts chunks over every draw: 4 patients per arm in chunks of 1, 2 arms, 2 draws.
    assert run["done"] == run["total"] == 4 * 2 * 2
    summary = run["result"]["summary"]
    assert summary["posterior"]["draws"] == 2 and summary["posterior"]["folder"] == "shipped"  # no server path
    for arm, entry in summary["arms"].items():
        assert entry["n"] == 2 * 4  # every draw's patients, pooled
        for rate in RATES:  # beside each sampling interval, the prediction interval over the draws
            low, high = entry[f"{rate}_prediction_interval"]
            assert 0 <= low <= high <= 1 and len(entry[f"{rate}_ci"]) == 2, (arm, rate)
    for rate in RATES:  # the difference between the arms, draw by draw, with its own interval
        difference = summary["differences"]["CD28 - 4-1BB"][rate]
        low, high = difference["prediction_interval"]
        assert -1 <= low <= difference["median"] <= high <= 1, rate
    # The CLI's code path, in another chunking: the same patients and the same intervals.
    patients, cli = run_posterior_trial(Trial.validated(POSTERIOR_TRIAL), SHIPPED, tmp_path / "cli", draws=2,
                                        chunk_size=3)
    assert cli["arms"] == summary["arms"] and cli["differences"] == summary["differences"]
    files = f"/api/runs/{run['id']}/files"
    (tmp_path / "web.parquet").write_bytes(client.get(f"{files}/patients.parquet").content)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "web.parquet"), patients)
    report = client.get(f"{files}/report.html").text
    assert "prediction" in report and "Differences between arms" in report


def test_a_stopped_posterior_trial_resumes_in_every_draw(tmp_path):
    from cartsim.web._tasks import TASKS

    request = {"trial": POSTERIOR_TRIAL, "draws": 2}  # as the server hands it to a worker
    whole = TASKS["trial"](request, tmp_path, lambda done, total: None)
    # A run stopped before its last chunk of the second draw: resumed in its folder, it writes only that one.
    last = sorted((tmp_path / "draws" / "draw-001" / "patients").rglob("chunk-*.parquet"))[-1]
    last.unlink()
    seen = []
    resumed = TASKS["trial"](request, tmp_path, lambda done, total: seen.append((done, total)))
    assert seen == [(8, 16), (15, 16), (16, 16)] and last.exists()  # draw 0 whole, draw 1 but its last chunk
    assert resumed["summary"]["arms"] == whole["summary"]["arms"]
    assert resumed["summary"]["differences"] == whole["summary"]["differences"]


@pytest.mark.parametrize("query, named", [
    ({**POSTERIOR, "draws": 5000}, "draws = '5000': Input should be less than or equal to 1000"),
    ({**POSTERIOR, "draws": 1}, "draws = '1': Input should be greater than or equal to 2"),
    ({**POSTERIOR, "draws": "many"}, "draws = 'many': Input should be a valid integer"),
    ({**POSTERIOR, "draws": 100}, "patients_per_arm = 12 with draws = 100: this server runs at most 2000 patients "
                                  "(all arms and posterior draws together) per run; asked for 2400"),
    ({"posterior": "/srv/calibration"}, "posterior = '/srv/calibration': Input should be 'shipped'"),
    ({"draws": 2}, "posterior = {'draws': '2'}: Field required"),
    ({**POSTERIOR, "walkers": 3}, "walkers = '3': Extra inputs are not permitted"),
])
def test_a_bad_posterior_query_is_422_naming_the_field(client, query, named):
    response = client.post("/api/runs/trial", params=query, json=SMALL_TRIAL)
    assert response.status_code == 422
    assert named in response.json()["detail"], response.json()["detail"]


def test_only_a_trial_takes_posterior_draws(client):
    response = client.post("/api/runs/restim", params=POSTERIOR, json={})
    assert response.status_code == 422 and "a restim run takes no options" in response.json()["detail"]


def test_a_run_past_the_time_limit_is_stopped_and_the_server_goes_on(tmp_path):
    limits = ServerLimits(workers=1, run_seconds=3, active_runs=1)
    with TestClient(create_app(limits, tmp_path)) as client:
        finished(client, "patient", {"simulation": {"days": 30}})  # warm
        run_id = client.post("/api/runs/trial", json=LONG_TRIAL).json()["id"]
        busy = client.post("/api/runs/patient", json={})
        assert busy.status_code == 503 and busy.headers["retry-after"]
        stopped = wait(client, run_id)
        assert stopped["state"] == "failed" and "run-time limit of 3 s" in stopped["message"]
        chunks = list((tmp_path / run_id / "patients").rglob("*.parquet"))
        assert all(len(pd.read_parquet(chunk)) == 100 for chunk in chunks)  # what was written stays valid
        assert finished(client, "patient", SHORT_PATIENT)["state"] == "done"  # a fresh worker took over


def test_the_live_server_answers_while_a_trial_runs(tmp_path):
    server = LiveServer(tmp_path)
    try:
        trial_id = server.client.post("/api/runs/trial", json=LONG_TRIAL).json()["id"]
        watched = []

        def watch():  # a long-lived request: the trial's event stream
            with server.client.stream("GET", f"/api/runs/{trial_id}/events", timeout=None) as stream:
                for line in stream.iter_lines():
                    watched.append(line)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert server.client.get("/api/health").json()["busy_workers"] >= 1
        patient = server.client.post("/api/runs/patient", json=SHORT_PATIENT).json()["id"]
        assert server.wait(patient)["state"] == "done"
        assert server.client.get(f"/api/runs/{trial_id}").json()["state"] == "running"  # still going
        server.client.delete(f"/api/runs/{trial_id}")
        watcher.join(timeout=30)
        assert any('"cancelled"' in line for line in watched)
    finally:
        server.stop()


def test_only_the_newest_finished_runs_are_kept(tmp_path):
    with TestClient(create_app(ServerLimits(workers=1, kept_runs=1), tmp_path)) as client:
        runs = [finished(client, "restim", {"rounds": 1, "seed": seed})["id"] for seed in range(3)]
        # When the third starts, the two finished ones are one too many: the older goes.
        assert [client.get(f"/api/runs/{run}").status_code for run in runs] == [404, 200, 200]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(runs[1:])  # the oldest folder is gone


def test_the_lab_assays_run_as_the_cli_runs_them(client):
    from cartsim.lab import run_restim

    restim = finished(client, "restim", {"rounds": 2, "costimulations": ["CD28"]})
    direct = run_restim(("CD28",), rounds=2)
    assert [row["senescent_fraction"] for row in restim["result"]["table"]] == direct.table["senescent_fraction"].tolist()
    mouse = finished(client, "mouse", {"stimulations": [0, 2], "mice": 3, "days": 40})
    groups = [(row["costimulation"], row["stimulations"]) for row in mouse["result"]["table"]]
    assert groups == [("4-1BB", 0), ("4-1BB", 2), ("CD28", 0), ("CD28", 2)] and mouse["done"] == mouse["total"] == 4
    assert set(mouse["result"]["figures"]) == {"mouse"} and "mouse_tumor.parquet" in mouse["files"]


# --- hostile and malformed bodies ---------------------------------------------------------------

#: Paths opened in this process while a test watches (None: not watching). An audit hook sees every open(),
#: whatever code makes it; once added it stays, so it is added once and only records while watched.
_OPENED: list[str] | None = None


def _record_open(event: str, args: tuple) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_record_open)


@pytest.fixture
def parameter_set(tmp_path):
    """A parameter-set file the CLI reads (valid JSON, a valid set), and the list of paths opened meanwhile."""
    global _OPENED
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"format": PARAMETER_SET_FORMAT, "version": "test",
                                "parameters": {"senescence_rate": 0.05}}))
    _OPENED = []
    yield str(path), _OPENED
    _OPENED = None


_MAPPING = "Value error, a file path, which the server never opens for a client; expected a mapping of model parameter"
_LEFT_OUT = "Value error, a file path, which the server never opens for a client; expected the field left out"


@pytest.mark.parametrize("route, body, field, expected", [
    ("/api/runs/patient", {"parameters": None}, "parameters", _MAPPING),
    ("/api/runs/trial", {**SMALL_TRIAL, "parameters": None}, "parameters", _LEFT_OUT),
    ("/api/runs/trial", {**SMALL_TRIAL, "arms": [{"name": "a"}, {"name": "b", "parameters": None}]},
     "arms.1.parameters", _MAPPING),
    ("/api/runs/trial?posterior=shipped&draws=2", {**SMALL_TRIAL, "parameters": None}, "parameters", _LEFT_OUT),
    ("/api/runs/trial?posterior=shipped&draws=2", {**SMALL_TRIAL, "arms": [{"name": "a", "parameters": None}]},
     "arms.0.parameters", _MAPPING),
    ("/api/runs/restim", {"parameters": None}, "parameters", "Extra inputs are not permitted"),
    ("/api/runs/mouse", {"parameters": None}, "parameters", "Extra inputs are not permitted"),
    ("/api/yaml/scenario", {"parameters": None}, "parameters", _MAPPING),
    ("/api/yaml/trial", {**SMALL_TRIAL, "parameters": None}, "parameters", _LEFT_OUT),
    ("/api/parse/scenario", {"parameters": None}, "parameters", _MAPPING),
    ("/api/parse/trial", {**SMALL_TRIAL, "arms": [{"name": "a", "parameters": None}]}, "arms.0.parameters", _MAPPING),
])
def test_a_path_in_any_field_is_422_naming_it_and_never_opened(client, parameter_set, route, body, field, expected):
    path, opened = parameter_set
    # The None placeholders are the path-valued fields (the cases list them: scenario, trial and arm parameters).
    body = json.loads(json.dumps(body).replace("null", json.dumps(path)))
    # /api/parse takes the YAML text of a file; every other route JSON.
    sent = dict(content=yaml.safe_dump(body).encode(), headers=YAML) if "/parse/" in route else dict(json=body)
    response = client.post(route, **sent)
    assert response.status_code == 422
    # The message echoes the value only when it is short (a long tmp path, as under xdist, is left out).
    echoed = f" = {path!r}" if len(repr(path)) <= _MAX_ECHOED else ""
    assert f"{field}{echoed}: {expected}" in response.json()["detail"], response.json()["detail"]
    assert path not in opened


def test_the_cli_still_reads_a_parameter_set_a_field_names(parameter_set):
    path, opened = parameter_set
    assert Scenario.validated({"parameters": path}).parameters == {"senescence_rate": 0.05}
    arm = Trial.validated({**SMALL_TRIAL, "parameters": path}).arms[1]
    assert arm.parameters == {"senescence_rate": 0.05} and path in opened  # the watch sees the CLI's reads


#: 303 bytes of YAML whose aliases would expand to 10^9 strings (the "billion laughs").
ALIAS_BOMB = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def _big_schedule(limit: int = 1_000_000) -> bytes:
    """A JSON scenario of drug doses just under ``limit`` bytes: as slow a body to validate as the server takes."""
    dose = {"drug": "tocilizumab", "day": 1.0, "dose": 8}
    count = (limit - 20) // (len(json.dumps(dose)) + 2)
    body = json.dumps({"schedule": [{**dose, "day": 1 + i * 1e-3} for i in range(count)]}).encode()
    while len(body) > limit:
        count -= 100
        body = json.dumps({"schedule": [{**dose, "day": 1 + i * 1e-3} for i in range(count)]}).encode()
    return body


@pytest.mark.parametrize("what", ["scenario", "trial"])
def test_a_yaml_alias_bomb_is_a_small_quick_422(client, what):
    started = time.monotonic()
    response = client.post(f"/api/parse/{what}", content=ALIAS_BOMB, headers=YAML)
    assert response.status_code == 422 and len(response.content) < 1000
    assert "anchors (&name) are not accepted (line 1" in response.json()["detail"]
    assert time.monotonic() - started < 30  # did not expand it (a generous bound: it used to take 55 s)
    aliased = client.post(f"/api/parse/{what}", content=b"x: *a\n", headers=YAML)
    assert aliased.status_code == 422 and "aliases (*name) are not accepted" in aliased.json()["detail"]
    repeated = client.post(f"/api/parse/{what}", content=b"name: a\nname: b\n", headers=YAML)
    assert repeated.status_code == 422 and "duplicate key 'name'" in repeated.json()["detail"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; charset=utf-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/yamlx", "text/html"])
def test_parse_takes_only_json_or_a_declared_yaml_type(client, content_type):
    # What a form or a cross-site "simple" request can send starts no parsing at all.
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/api/parse/scenario", content=b"patient: {age_years: 70}\n", headers=headers)
    assert response.status_code == 415 and "application/yaml" in response.json()["detail"]
    # and the run and conversion routes take JSON only, not YAML
    assert client.post("/api/yaml/scenario", content=b"{}", headers=YAML).status_code == 415


@pytest.mark.parametrize("content_type", ["application/yaml", "APPLICATION/X-YAML", "Text/YAML; charset=UTF-8",
                                          "text/x-yaml", "application/json", "APPLICATION/JSON; Charset=UTF-8"])
def test_media_types_are_case_insensitive_with_parameters(client, content_type):
    text = b'{"patient": {"age_years": 70}}'  # JSON is YAML too
    parsed = client.post("/api/parse/scenario", content=text, headers={"content-type": content_type})
    assert parsed.status_code == 200, parsed.text
    assert Scenario.validated(parsed.json()).patient.age_years == 70


def test_upper_case_json_is_accepted_by_runs_and_conversions(client):
    headers = {"content-type": "APPLICATION/JSON; CHARSET=utf-8"}
    converted = client.post("/api/yaml/scenario", content=b'{"patient": {"age_years": 70}}', headers=headers)
    assert converted.status_code == 200 and "age_years: 70" in converted.text
    started = client.post("/api/runs/restim", content=b'{"rounds": 1}', headers=headers)
    assert started.status_code == 202, started.text
    assert wait(client, started.json()["id"])["state"] == "done"


@pytest.mark.parametrize("route", ["/api/runs/patient", "/api/yaml/scenario", "/api/parse/scenario"])
@pytest.mark.parametrize("body, named", [
    ({"product": {"preset": ["x"]}}, "preset is a product name (a string), got list"),
    ({"product": {"preset": {"a": 1}}}, "preset is a product name (a string), got dict"),
    ({"protocol": [{"when": "(" * 5000 + "fever" + ")" * 5000, "give": "tocilizumab", "dose_mg": 8}]},
     "protocol.0.when"),
    ({"protocol": [{"when": "(" * 300 + "fever" + ")" * 300, "give": "tocilizumab", "dose_mg": 8}]},
     "nested deeper than 32 levels of '(' and 'not'"),
    ({"protocol": [{"when": "not " * 200 + "fever", "give": "tocilizumab", "dose_mg": 8}]}, "protocol.0.when"),
])
def test_a_malformed_body_is_422_never_500(client, route, body, named):
    response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]


@pytest.mark.parametrize("route", ["/api/runs/patient", "/api/runs/trial", "/api/yaml/trial", "/api/parse/scenario"])
@pytest.mark.parametrize("body", [
    b'{"a":' * 200_000,  # past the JSON decoder's own recursion limit (and not even complete)
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"parameters": json.loads("[" * 500 + "]" * 500)}).encode(),  # valid JSON, decodable, too deep
    json.dumps({"name": "[[[[" * 1000}).encode(),  # brackets in a string are no nesting: a normal 422/202
])
def test_deeply_nested_json_is_422(client, route, body):
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    if b"[[[[" in body:
        assert response.status_code != 500
        if response.status_code == 202:
            client.delete(f"/api/runs/{response.json()['id']}")
        return
    assert response.status_code == 422, response.text[:500]
    assert "nested deeper than 32 levels" in response.json()["detail"]


def test_deeply_nested_yaml_is_422(client):
    for text in (b"[" * 100_000 + b"]" * 100_000, b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 200))):
        response = client.post("/api/parse/trial", content=text, headers=YAML)
        assert response.status_code == 422 and "nested deeper than" in response.json()["detail"]


def test_a_422_lists_at_most_50_problems(client):
    body = {"schedule": [{"drug": "aspirin", "day": 1, "dose": 1}] * 200}
    detail = client.post("/api/yaml/scenario", json=body).json()["detail"]
    assert "200 invalid field(s)" in detail and detail.count("\n") == 51 and detail.endswith("and 150 more")


def test_a_body_slower_than_the_parse_limit_is_413(tmp_path):
    # No lifespan (no workers): the conversion routes need none.
    client = TestClient(create_app(ServerLimits(parse_seconds=0.01), tmp_path))
    response = client.post("/api/yaml/scenario", content=_big_schedule(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "took longer than 0.01 s to read and validate" in response.json()["detail"]


# --- a real server in this process: slow bodies, and a responsive event loop while a body is validated --


class _InProcessServer:
    """uvicorn on a free port in a thread, serving ``create_app(limits)``."""

    def __init__(self, limits: ServerLimits, data_dir: Path):
        import uvicorn

        from web_server import free_port

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(limits, data_dir), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = _InProcessServer(ServerLimits(workers=1, body_seconds=1.0), tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


def _raw_post(port: int, head: bytes, chunks, pause_s: float, timeout_s: float = 30) -> tuple[bytes, float]:
    """Send ``head`` then each chunk ``pause_s`` apart (stopping once the server answers); the answer and
    how long after the head it came."""
    import select
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(head)
        started = time.monotonic()
        answer = b""
        for chunk in chunks:
            if select.select([sock], [], [], pause_s)[0]:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed it
                break
        while time.monotonic() - started < timeout_s:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer and b'"}' in answer:
                break
        return answer, time.monotonic() - started


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_trickling_body_is_cut_off_with_408(live, framing):
    if framing == "chunked":
        head = (b"POST /api/parse/scenario HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunks = (b"1\r\n \r\n" for _ in range(200))
    else:
        head = (b"POST /api/parse/scenario HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                b"Content-Length: 1000\r\n\r\n")
        chunks = (b" " for _ in range(200))
    answer, after_s = _raw_post(live.port, head, chunks, pause_s=0.1)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request body not received within 1 s" in answer
    assert after_s < 20  # cut off, not read to the end (200 x 0.1 s) or never


def test_a_body_sent_at_once_is_not_timed_out(live):
    import httpx2

    with httpx2.Client(base_url=live.url, timeout=60) as http:
        response = http.post("/api/parse/scenario", content=b"patient: {age_years: 70}\n", headers=YAML)
        assert response.status_code == 200 and response.json()["patient"]["age_years"] == 70
        # and a long-lived request after its (empty) body is not cut off by the body's read limit
        with http.stream("GET", "/api/health") as health:
            time.sleep(1.5)
            assert health.status_code == 200


def test_health_answers_while_a_big_body_is_validated(live):
    import httpx2

    body = _big_schedule()
    outcome = {}

    def post():
        with httpx2.Client(base_url=live.url, timeout=120) as http:
            started = time.monotonic()
            response = http.post("/api/yaml/scenario", content=body, headers={"content-type": "application/json"})
            outcome.update(status=response.status_code, seconds=time.monotonic() - started)

    poster = threading.Thread(target=post)
    with httpx2.Client(base_url=live.url, timeout=60) as http:
        poster.start()
        latencies = []
        while poster.is_alive():
            started = time.monotonic()
            assert http.get("/api/health").json()["status"] == "ok"
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)
        poster.join()
    # validated (200), or refused by a cap on its size or time (413/422): never a blocked loop or a 500
    assert outcome["status"] in (200, 413, 422)
    if outcome["seconds"] > 2:  # a validation long enough to have blocked health, had it run on the loop
        assert len(latencies) >= 3 and max(latencies) < outcome["seconds"] / 2, (latencies, outcome)
