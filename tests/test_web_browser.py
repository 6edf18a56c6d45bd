"""The web app in a real headless Chromium (Debian's package, installed by `make test`), driven by
playwright: fill the forms, run a patient, a small trial and a lab assay, and check that the charts hold
data. The browser may only talk to the local server: any other request is blocked and fails the test."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from web_server import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: As the machine's own browser check starts it: no sandbox (root), no background connections to the
#: network (which this machine does not have).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("browser-server"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium not found: `make test` installs the Debian package chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    elsewhere = []

    def local_only(route):
        if urlsplit(route.request.url).netloc == urlsplit(server.url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    page.close()
    assert elsewhere == [], f"the page asked for something off this server: {elsewhere}"


def traces(page, chart: str) -> list[int]:
    """Points in each trace of a drawn Plotly chart, as Plotly drew them (its decoded traces stay on the element)."""
    return page.evaluate(f"""() => (document.getElementById('{chart}')._fullData || [])
        .map(trace => (trace.x || []).length)""")


def test_a_patient_run_draws_every_chart(page, tmp_path):
    page.select_option("#patient-form [data-path='product.preset']", "liso-cel")
    assert "lisocabtagene" in page.inner_text("#preset-note")
    assert page.input_value("#patient-form [data-path='product.dose_cells']") == "100000000"  # the preset's dose
    page.fill("#patient-form [data-path='simulation.days']", "365")
    page.click("#run-patient")
    page.wait_for_selector("#patient-status:has-text('Done in')", timeout=RUN_TIMEOUT_MS)
    for chart in ("chart-car_t", "chart-storm", "chart-tumor", "chart-b_cells"):
        points = traces(page, chart)
        assert points and min(points) > 0, (chart, points)
        assert page.locator(f"#{chart} .main-svg").count() > 0  # rendered, not only handed to Plotly
    assert len(traces(page, "chart-car_t")) == 6  # all, resting, effector, senescent, CD4, CD8
    endpoints = page.inner_text("#patient-endpoints")
    assert "best response (iwCLL)" in endpoints and "CRS max grade (ASTCT)" in endpoints
    assert page.locator("#patient-events tr").count() > 1
    links = page.locator("#patient-downloads a")
    assert "trajectories.csv" in links.all_inner_texts() and "scenario.yaml" in links.all_inner_texts()
    page.click("#replay")  # a cursor runs through the charts to day 60, with the patient's state on each day
    page.locator("#replay-readout:has-text('Day 60:')").wait_for(timeout=60_000)
    readout = page.inner_text("#replay-readout")
    assert "CRS grade" in readout and "given so far" in readout
    assert page.evaluate("() => document.getElementById('chart-storm')._fullLayout.shapes.at(-1).x0") == 60
    page.screenshot(path=tmp_path / "patient.png", full_page=True)


def test_a_bad_value_shows_the_servers_message_naming_the_field(page):
    page.fill("#patient-form [data-path='patient.age_years']", "0.5")
    page.dispatch_event("#patient-form [data-path='patient.age_years']", "change")
    page.click("#run-patient")
    error = page.locator("#patient-error")
    error.wait_for(state="visible")
    assert "patient.age_years" in error.inner_text() and "greater than or equal to 1" in error.inner_text()


def test_a_drawn_patient_fills_the_form_from_the_population(page):
    before = page.input_value("#patient-form [data-path='patient.tcell_fitness']")
    page.fill("#population-index", "3")
    page.click("#draw-patient")
    page.wait_for_function(f"""() => document.querySelector("[data-path='patient.tcell_fitness']").value !== '{before}'""")


def test_a_small_trial_shows_progress_endpoints_and_kaplan_meier(page, tmp_path):
    page.click("button[data-tab=trial]")
    page.fill("#trial-form [data-path=patients_per_arm]", "20")
    page.dispatch_event("#trial-form [data-path=patients_per_arm]", "change")
    page.fill("#trial-form [data-path=follow_up_days]", "365")
    page.dispatch_event("#trial-form [data-path=follow_up_days]", "change")
    page.click("#run-trial")
    page.wait_for_selector("#trial-status:has-text('Trial done: 2 arms, 20 and 20 patients')", timeout=RUN_TIMEOUT_MS)
    bar = page.locator("#trial-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") and int(bar.get_attribute("max")) > 1
    rows = page.locator("#trial-endpoints tr")
    assert rows.count() == 3  # header, 4-1BB, CD28
    assert "4-1BB" in rows.nth(1).inner_text() and "CD28" in rows.nth(2).inner_text()
    assert traces(page, "chart-rates") == [5, 5]  # per arm: ORR, CR, uMRD4, CRS >= 3, ICANS >= 3
    for chart in ("chart-km_pfs", "chart-km_os"):
        assert len(traces(page, chart)) == 6  # per arm: the curve and its two band edges
        assert min(traces(page, chart)) > 0
    page.screenshot(path=tmp_path / "trial.png", full_page=True)


def test_a_trial_over_posterior_draws_shows_prediction_intervals_and_differences(page, tmp_path):
    page.click("button[data-tab=trial]")
    for field, value in (("patients_per_arm", "4"), ("follow_up_days", "60")):
        page.fill(f"#trial-form [data-path={field}]", value)
        page.dispatch_event(f"#trial-form [data-path={field}]", "change")
    assert page.is_disabled("#trial-draws")  # the default: no posterior
    page.check("#trial-posterior")
    page.fill("#trial-draws", "5000")
    page.click("#run-trial")
    page.locator("#trial-error:has-text(\"draws = '5000'\")").wait_for(timeout=RUN_TIMEOUT_MS)
    page.fill("#trial-draws", "2")
    page.click("#run-trial")
    page.wait_for_selector("#trial-status:has-text('over 2 posterior draws')", timeout=RUN_TIMEOUT_MS)
    header = page.locator("#trial-endpoints tr").first.inner_text()
    assert "4-1BB: estimate (95% sampling interval)" in header and "4-1BB: 95% prediction interval" in header
    orr = page.locator("#trial-endpoints tr:has-text('ORR')").first.locator("td").all_inner_texts()
    assert len(orr) == 5 and all("%" in cell for cell in orr[1:])  # per arm: estimate (interval), prediction
    assert "–" in orr[2] and "–" in orr[4]  # the prediction intervals, low–high
    assert page.is_visible("#trial-differences") and "CD28 - 4-1BB" in page.inner_text("#trial-differences")
    page.screenshot(path=tmp_path / "trial-posterior.png", full_page=True)


def test_a_cancelled_trial_resumes_from_the_page(page):
    page.click("button[data-tab=trial]")
    for field, value in (("patients_per_arm", "150"), ("follow_up_days", "1460")):
        page.fill(f"#trial-form [data-path={field}]", value)
        page.dispatch_event(f"#trial-form [data-path={field}]", "change")
    page.click("#run-trial")
    page.wait_for_function("() => Number(document.querySelector('#trial-progress').value) >= 2", timeout=RUN_TIMEOUT_MS)
    page.click("#cancel-trial")
    page.locator("#trial-error:has-text('trial run cancelled')").wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.is_enabled("#resume-trial")
    page.click("#resume-trial")
    page.wait_for_selector("#trial-status:has-text('Trial done: 2 arms, 150 and 150 patients')", timeout=RUN_TIMEOUT_MS)
    assert not page.is_enabled("#resume-trial") and page.locator("#trial-endpoints tr").count() == 3


def test_the_lab_assay_runs_from_the_page(page, tmp_path):
    page.click("button[data-tab=lab]")
    page.fill("#restim-form [data-path=rounds]", "3")
    page.dispatch_event("#restim-form [data-path=rounds]", "change")
    page.click("#run-restim")
    page.wait_for_selector("#lab-status:has-text('Assay done')", timeout=RUN_TIMEOUT_MS)
    assert traces(page, "chart-lab") and min(traces(page, "chart-lab")) == 3  # three rounds per line
    assert page.locator("#lab-table tr").count() == 1 + 2 * 3  # header, 2 domains x 3 rounds
    page.screenshot(path=tmp_path / "lab.png", full_page=True)


def test_the_scenario_edited_as_yaml_is_the_forms_scenario(page):
    page.click("#scenario-yaml")
    editor = page.locator("#scenario-text")
    page.wait_for_function("() => document.querySelector('#scenario-text').value.includes('patient:')")
    text = editor.input_value()
    assert "days: 3650" in text and "protocol:" in text
    editor.fill(text.replace("days: 3650", "days: 200").replace("costimulation: 4-1BB", "costimulation: CD28"))
    page.click("#scenario-apply")
    page.wait_for_function("() => document.querySelector(\"[data-path='simulation.days']\").value === '200'")
    assert page.input_value("#patient-form [data-path='product.costimulation']") == "CD28"
    assert page.input_value("#patient-form [data-path=protocol]") == ""  # the loaded rules, not a preset
    editor.fill(text.replace("age_years: 65", "age_years: 0"))
    page.click("#scenario-apply")
    page.locator("#patient-error:has-text('patient.age_years = 0')").wait_for()
