// The cartsim page: forms that edit a scenario, a trial or lab settings as JSON (the same fields as the
// YAML files), runs followed by server-sent events, and the server's Plotly figures drawn as they come.
// Every check of a value is the server's: its 422 message names the field, the value and what it expects.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const TERMINAL = ["done", "failed", "cancelled"];
const PLOT_CONFIG = { responsive: true, displaylogo: false };

let OPTIONS = null;
const state = { scenario: null, trial: null, restim: null, mouse: null };

// ---- values and paths -------------------------------------------------------------------------------

function getPath(object, path) {
  return path.split(".").reduce((o, key) => (o == null ? undefined : o[key]), object);
}

function setPath(object, path, value) {
  const keys = path.split(".");
  const last = keys.pop();
  let o = object;
  for (const key of keys) {
    if (typeof o[key] !== "object" || o[key] === null) o[key] = {};
    o = o[key];
  }
  o[last] = value;
}

// What an input holds, as JSON: numbers where they parse (1e11 included), the text otherwise, so the
// server can say what it expected. Long integers (seeds up to 2**63) stay text: JSON numbers lose digits.
function readInput(el) {
  if (el.type === "checkbox") return el.checked;
  const type = el.dataset.type || "number";
  const text = el.value.trim();
  if (type !== "number" && type !== "int" && type !== "list") return text;
  if (type === "list") return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => (Number.isFinite(Number(s)) ? Number(s) : s));
  if (type === "int" && /^\d{16,}$/.test(text)) return text;
  const number = Number(text);
  return text !== "" && Number.isFinite(number) ? number : text;
}

function showInput(el, value) {
  if (el.type === "checkbox") el.checked = Boolean(value);
  else el.value = Array.isArray(value) ? value.join(", ") : (value ?? "");
}

function shown(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 1e5 ? String(value) : value.toPrecision(3);
  return String(value);
}

const percent = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
const rateWithInterval = (entry, key) => {
  const [low, high] = entry[`${key}_ci`] || [null, null];
  return `${percent(entry[key])} (${percent(low)}–${percent(high)})`;
};

function options(select, values, labels = values) {
  select.replaceChildren(...values.map((value, k) => new Option(labels[k], value)));
}

function table(el, header, rows) {
  const line = (cells, tag) => `<tr>${cells.map((c) => `<${tag}>${escapeHtml(shown(c))}</${tag}>`).join("")}</tr>`;
  el.innerHTML = line(header, "th") + rows.map((row) => line(row, "td")).join("");
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

// ---- the server --------------------------------------------------------------------------------------

async function request(method, url, body, contentType = "application/json") {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) {
    let detail = text;
    try { detail = JSON.parse(text).detail; } catch (_) { /* a plain-text error */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

// Start a run (with its options as a query, such as a trial's posterior draws) and follow it to its end.
async function startRun(kind, body, onStatus, query = "") {
  return followRun(await request("POST", `/api/runs/${kind}${query}`, body), onStatus);
}

// Follow a run's server-sent events (onStatus on each); resolve with the finished run.
function followRun(run, onStatus) {
  onStatus(run);
  return new Promise((resolve, reject) => {
    const events = new EventSource(`/api/runs/${run.id}/events`);
    events.addEventListener("status", async (event) => {
      const status = JSON.parse(event.data);
      onStatus(status);
      if (!TERMINAL.includes(status.state)) return;
      events.close();
      if (status.state === "done") resolve(await request("GET", `/api/runs/${run.id}`));
      else reject(new Error(`${status.kind} run ${status.state}: ${status.message}`));
    });
    // A dropped connection is retried by the browser; a refused one (the run is gone) ends here.
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED) reject(new Error(`lost the progress of run ${run.id}`));
    };
  });
}

function downloads(el, run) {
  el.replaceChildren(document.createTextNode("Download: "), ...run.files.map((name) => {
    const link = document.createElement("a");
    link.href = `/api/runs/${run.id}/files/${name}`;
    link.textContent = name;
    link.download = name;
    return link;
  }));
}

function plot(id, figure) {
  Plotly.react(id, figure.data, figure.layout, PLOT_CONFIG);
}

function saveText(text, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/yaml" }));
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

// ---- forms -------------------------------------------------------------------------------------------

// The product as the patient would get it: the fields set here, else the preset's, else the defaults.
function productField(product, field) {
  const preset = product.preset ? OPTIONS.product_presets[product.preset] : {};
  return product[field] ?? preset[field] ?? OPTIONS.scenario.product[field];
}

function presetSelect(select) {
  options(select, ["", ...Object.keys(OPTIONS.product_presets)], ["custom", ...Object.keys(OPTIONS.product_presets)]);
}

function protocolSelect(select, protocol) {
  const names = OPTIONS.protocol_presets;
  const loaded = typeof protocol !== "string";
  options(select, loaded ? [...names, ""] : names, loaded ? [...names, "as loaded (rules)"] : names);
  select.value = loaded ? "" : protocol;
}

function renderPatientForm() {
  const form = $("#patient-form");
  const scenario = state.scenario;
  for (const el of $$("[data-path]", form)) {
    const path = el.dataset.path;
    if (path === "protocol") protocolSelect(el, scenario.protocol);
    else if (path.startsWith("product.")) showInput(el, productField(scenario.product, path.slice(8)) ?? "");
    else showInput(el, getPath(scenario, path));
  }
  const preset = scenario.product.preset;
  $("#preset-note").textContent = preset ? OPTIONS.product_presets[preset].description : "";
}

function editPatient(el) {
  const path = el.dataset.path;
  const value = readInput(el);
  if (path === "product.preset") {
    state.scenario.product = value ? { preset: value } : { ...state.scenario.product, preset: null };
  } else if (path === "protocol") {
    if (value) state.scenario.protocol = value;
  } else {
    setPath(state.scenario, path, value);
  }
  renderPatientForm();
}

function renderPlainForm(form, settings) {
  for (const el of $$("input[data-path], select[data-path]", form)) showInput(el, getPath(settings, el.dataset.path));
  for (const box of $$(".domains", form)) {
    box.replaceChildren(...OPTIONS.costimulation.map((domain) => {
      const label = document.createElement("label");
      label.className = "check";
      label.innerHTML = `<input type="checkbox" value="${escapeHtml(domain)}"> ${escapeHtml(domain)}`;
      label.firstChild.checked = settings.costimulations.includes(domain);
      return label;
    }));
  }
}

function editPlain(settings, el) {
  if (el.closest(".domains")) {
    settings.costimulations = $$("input:checked", el.closest(".domains")).map((box) => box.value);
  } else if (el.dataset.path) {
    setPath(settings, el.dataset.path, readInput(el));
  }
}

// ---- patient -----------------------------------------------------------------------------------------

// Replay: a cursor runs through the four charts day by day, with a readout of the patient on that day.
const replay = { shapes: {}, events: [], timer: null };

// The value a drawn trace holds on `day` (its last point at or before it), from what Plotly drew.
function traceValue(chart, name, day) {
  const trace = document.getElementById(chart)._fullData.find((t) => t.name === name);
  let value = null;
  for (let i = 0; trace && i < trace.x.length && trace.x[i] <= day; i++) value = trace.y[i];
  return value;
}

function showDay(day) {
  const cursor = { type: "line", xref: "x", yref: "paper", x0: day, x1: day, y0: 0, y1: 1, line: { color: "#333", width: 1.5, dash: "dot" } };
  for (const chart of Object.keys(replay.shapes)) Plotly.relayout(chart, { shapes: [...replay.shapes[chart], cursor] });
  const given = {};
  for (const e of replay.events) if (e.day <= day && OPTIONS.drugs.includes(e.event)) given[e.event] = (given[e.event] || 0) + 1;
  const car = traceValue("chart-car_t", "all CAR-T", day);
  const effector = traceValue("chart-car_t", "effector", day);
  const drugs = Object.entries(given).map(([drug, n]) => `${drug} ×${n}`).join(", ") || "nothing";
  $("#replay-readout").textContent = `Day ${day}: CAR-T ${shown(car)} cells (${car ? percent(effector / car) : "—"} effector), ` +
    `CLL ${shown(traceValue("chart-tumor", "all CLL", day))} cells, IL-6 ${shown(traceValue("chart-storm", "free IL-6 (pg/mL)", day))} pg/mL, ` +
    `CRS grade ${shown(traceValue("chart-storm", "CRS grade", day))}, ICANS grade ${shown(traceValue("chart-storm", "ICANS grade", day))}; ` +
    `given so far: ${drugs}.`;
}

function play() {
  clearInterval(replay.timer);
  const slider = $("#replay-day");
  let day = Number(slider.min);
  replay.timer = setInterval(() => {
    slider.value = day;
    showDay(day);
    day += 0.5;
    if (day > Number(slider.max)) clearInterval(replay.timer);
  }, 60);
}

function showPatient(run) {
  const { summary, events, figures } = run.result;
  $("#patient-results").hidden = false;
  clearInterval(replay.timer);
  replay.events = events;
  for (const [name, figure] of Object.entries(figures)) {
    plot(`chart-${name}`, figure);
    replay.shapes[`chart-${name}`] = figure.layout.shapes || [];
  }
  table($("#patient-endpoints"), ["endpoint", "value"],
    Object.entries(OPTIONS.endpoints).filter(([key]) => key in summary).map(([key, label]) => [label, summary[key]]));
  table($("#patient-events"), ["day", "event", "grade", "action"], events.map((e) => [e.day, e.event, e.grade, e.action]));
  downloads($("#patient-downloads"), run);
}

async function runPatient(event) {
  event.preventDefault();
  const status = $("#patient-status");
  showError($("#patient-error"), "");
  $("#run-patient").disabled = true;
  const started = performance.now();
  try {
    const run = await startRun("patient", state.scenario, (s) => { status.textContent = `Patient run ${s.state}…`; });
    showPatient(run);
    const summary = run.result.summary;
    status.textContent = `Done in ${((performance.now() - started) / 1000).toFixed(1)} s: best response ` +
      `${shown(summary.best_response)}, CRS grade ${shown(summary.crs_max_grade)}, CAR-T peak ${shown(summary.car_t_peak_cells)} cells.`;
  } catch (error) {
    status.textContent = "The patient did not run.";
    showError($("#patient-error"), error.message);
  } finally {
    $("#run-patient").disabled = false;
  }
}

async function drawPatient() {
  const population = $("#population").value;
  const index = $("#population-index").value || "0";
  try {
    const drawn = await request("GET", `/api/populations/${encodeURIComponent(population)}/patients/${encodeURIComponent(index)}`);
    state.scenario.patient = { ...state.scenario.patient, ...drawn.patient };
    state.scenario.simulation.seed = drawn.seed;
    renderPatientForm();
    showError($("#patient-error"), "");
  } catch (error) {
    showError($("#patient-error"), error.message);
  }
}

// The YAML editor of a scenario or trial: filled from the form's state by the server (which validates
// it), applied back through the server's parser, so a YAML file and the form are one and the same.
const EDITORS = {
  scenario: { editor: "#scenario-editor", text: "#scenario-text", error: "#patient-error", render: () => renderPatientForm() },
  trial: { editor: "#trial-editor", text: "#trial-text", error: "#trial-error", render: () => { renderPlainForm($("#trial-form"), state.trial); renderArms(); } },
};

async function editYaml(what) {
  const editor = EDITORS[what];
  try {
    $(editor.text).value = await request("POST", `/api/yaml/${what}`, state[what]);
    $(editor.editor).open = true;
    showError($(editor.error), "");
  } catch (error) {
    showError($(editor.error), error.message);
  }
}

async function applyYaml(what, text) {
  const editor = EDITORS[what];
  try {
    state[what] = await request("POST", `/api/parse/${what}`, text, "application/yaml");
    editor.render();
    showError($(editor.error), "");
  } catch (error) {
    showError($(editor.error), error.message);
  }
}

async function loadScenario(event) {
  const file = event.target.files[0];
  if (!file) return;
  const text = await file.text();
  $("#scenario-text").value = text;
  $("#scenario-editor").open = true;
  await applyYaml("scenario", text);
  event.target.value = "";
}

// ---- trial -------------------------------------------------------------------------------------------

const ARM_FIELDS = [
  ["name", "arm", "text"], ["product.preset", "product", "preset"], ["product.costimulation", "co-stimulation", "costim"],
  ["product.dose_cells", "dose (CAR+ cells)", "number"], ["protocol", "protocol", "protocol"],
  ["lymphodepletion.intensity", "lymphodepletion (x)", "number"],
];

function renderArms() {
  const rows = state.trial.arms.map((arm, k) => {
    const row = document.createElement("div");
    row.className = "arm";
    row.dataset.arm = k;
    for (const [path, label, type] of ARM_FIELDS) {
      const cell = document.createElement("label");
      cell.textContent = label;
      const el = document.createElement(type === "text" || type === "number" ? "input" : "select");
      el.dataset.path = path;
      el.dataset.type = type === "number" ? "number" : "text";
      if (type === "preset") presetSelect(el);
      if (type === "costim") options(el, OPTIONS.costimulation);
      if (type === "protocol") protocolSelect(el, arm.protocol ?? "standard");
      else if (path.startsWith("product.")) showInput(el, productField(arm.product ?? {}, path.slice(8)) ?? "");
      else showInput(el, getPath(arm, path) ?? getPath(OPTIONS.scenario, path));
      cell.append(el);
      row.append(cell);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.className = "remove-arm";
    remove.disabled = state.trial.arms.length === 1;
    row.append(remove);
    return row;
  });
  $("#arms").replaceChildren(...rows);
}

function editArm(el) {
  const arm = state.trial.arms[Number(el.closest(".arm").dataset.arm)];
  const path = el.dataset.path;
  const value = readInput(el);
  arm.product ??= {};
  if (path === "product.preset") arm.product = value ? { preset: value } : { ...arm.product, preset: null };
  else if (path === "protocol") { if (value) arm.protocol = value; }
  else setPath(arm, path, value);
  renderArms();
}

// The endpoints of a trial run once: one row per arm, each rate with its 95% (Wilson) interval.
function showEndpoints(summary) {
  const rates = [["orr", "ORR"], ["cr_rate", "CR"], ["umrd4_blood_rate", "uMRD4 blood"], ["crs_grade3plus_rate", "CRS ≥ 3"],
    ["icans_grade3plus_rate", "ICANS ≥ 3"], ["crs_death_rate", "CRS deaths"], ["manufacturing_failure_rate", "manufacturing failed"]];
  table($("#trial-endpoints"), ["arm", "n", ...rates.map(([, label]) => label), "median PFS (mo)", "median OS (mo)", "PFS 12 mo", "OS 12 mo"],
    Object.entries(summary.arms).map(([arm, e]) => [arm, e.n, ...rates.map(([key]) => rateWithInterval(e, key)),
      e.median_pfs_months ?? "not reached", e.median_os_months ?? "not reached", percent(e.pfs_12m), percent(e.os_12m)]));
}

// A share (a rate, survival at 12 months) as a percentage; anything else (months, cells, days) as a number.
const isShare = (key) => key === "orr" || key.endsWith("_rate") || key.endsWith("_12m");
const notReached = (key) => key.startsWith("median_") && key.endsWith("_months"); // a missing median survival
const valueOf = (key, x) => (x == null && notReached(key) ? "not reached" : isShare(key) ? percent(x) : shown(x));
const intervalOf = (key, pair) => (pair ? `${valueOf(key, pair[0])}–${valueOf(key, pair[1])}` : "—");
const withInterval = (key, x, pair) => (pair ? `${valueOf(key, x)} (${intervalOf(key, pair)})` : valueOf(key, x));
const labelOf = (key) => OPTIONS.labels[key] ?? key.replaceAll("_", " ");
const PREDICTION = "_prediction_interval";

// A trial over posterior draws: one row per endpoint; per arm its estimate over every draw's patients with
// the sampling interval, and beside it the prediction interval over the draws. Then each arm minus the first,
// draw by draw: the median and its prediction interval.
function showPosteriorEndpoints(summary) {
  const arms = Object.entries(summary.arms);
  const keys = Object.keys(arms[0][1]).filter((key) => key.endsWith(PREDICTION)).map((key) => key.slice(0, -PREDICTION.length));
  table($("#trial-endpoints"), ["endpoint", ...arms.flatMap(([arm]) => [`${arm}: estimate (95% sampling interval)`, `${arm}: 95% prediction interval`])],
    keys.map((key) => [labelOf(key), ...arms.flatMap(([, e]) => [withInterval(key, e[key], e[`${key}_ci`]), intervalOf(key, e[`${key}${PREDICTION}`])])]));
  const pairs = Object.entries(summary.differences || {});
  table($("#trial-differences"), ["endpoint", ...pairs.map(([pair]) => `${pair}: median (95% prediction interval)`)],
    keys.map((key) => [labelOf(key), ...pairs.map(([, d]) => withInterval(key, d[key]?.median, d[key]?.prediction_interval))]));
}

function showTrial(run) {
  const summary = run.result.summary;
  const posterior = summary.posterior;
  $("#trial-results").hidden = false;
  $("#trial-endpoints-title").textContent = posterior
    ? `Endpoints per arm over ${posterior.draws} posterior draws (95% sampling and prediction intervals)` : "Endpoints per arm (95% intervals)";
  $("#trial-posterior-note").textContent = posterior ? `${posterior.patients_per_draw} patients per arm in each draw; ${posterior.what}.` : "";
  $("#trial-posterior-note").hidden = !posterior;
  $("#trial-differences-title").hidden = $("#trial-differences").hidden = !(posterior && Object.keys(summary.differences).length);
  if (posterior) showPosteriorEndpoints(summary);
  else showEndpoints(summary);
  const ratios = Object.entries(summary.hazard_ratios || {});
  const ratio = (hr, ci) => (hr === null ? "not estimable" : `${hr.toFixed(2)} (${shown(ci[0])}–${shown(ci[1])})`);
  table($("#trial-hazards"), ["hazard ratio (Cox)", "PFS", "OS"], ratios.map(([pair, e]) => [pair, ratio(e.pfs_hr, e.pfs_hr_ci), ratio(e.os_hr, e.os_hr_ci)]));
  $("#trial-hazards").hidden = ratios.length === 0;
  for (const [name, figure] of Object.entries(run.result.figures)) plot(`chart-${name}`, figure);
  downloads($("#trial-downloads"), run);
}

// The latest trial, for Cancel and Resume (a stopped trial finishes from the chunks it had written).
const trial = { id: null, state: null };

async function followTrial(launch) {
  const status = $("#trial-status");
  const bar = $("#trial-progress");
  showError($("#trial-error"), "");
  $("#run-trial").disabled = $("#resume-trial").disabled = true;
  bar.hidden = false;
  try {
    const run = await launch((s) => {
      Object.assign(trial, { id: s.id, state: s.state });
      $("#cancel-trial").disabled = TERMINAL.includes(s.state);
      bar.max = Math.max(s.total, 1);
      bar.value = s.done;
      status.textContent = s.total ? `Trial ${s.state}: ${s.done} of ${s.total} chunks` : `Trial ${s.state}…`;
    });
    showTrial(run);
    const { arms, posterior } = run.result.summary;
    status.textContent = `Trial done: ${Object.keys(arms).length} arms, ${Object.values(arms).map((e) => e.n).join(" and ")} patients` +
      `${posterior ? ` over ${posterior.draws} posterior draws` : ""}.`;
  } catch (error) {
    showError($("#trial-error"), error.message);
  } finally {
    $("#run-trial").disabled = false;
    $("#cancel-trial").disabled = true;
    $("#resume-trial").disabled = !["cancelled", "failed"].includes(trial.state);
  }
}

// ---- lab ---------------------------------------------------------------------------------------------

async function runLab(kind, event) {
  event.preventDefault();
  const status = $("#lab-status");
  const bar = $("#lab-progress");
  showError($("#lab-error"), "");
  bar.hidden = false;
  bar.value = 0;
  try {
    const run = await startRun(kind, state[kind], (s) => {
      bar.max = Math.max(s.total, 1);
      bar.value = s.done;
      status.textContent = `${kind === "restim" ? "Assay" : "Xenograft"} ${s.state}${s.total ? `: ${s.done} of ${s.total}` : "…"}`;
    });
    $("#lab-results").hidden = false;
    plot("chart-lab", run.result.figures[kind]);
    const rows = run.result.table;
    const header = rows.length ? Object.keys(rows[0]) : [];
    table($("#lab-table"), header, rows.map((row) => header.map((key) => row[key])));
    downloads($("#lab-downloads"), run);
    status.textContent = `${kind === "restim" ? "Assay" : "Xenograft"} done.`;
  } catch (error) {
    showError($("#lab-error"), error.message);
  }
}

// ---- start -------------------------------------------------------------------------------------------

function showTab(name) {
  for (const button of $$(".tab")) button.classList.toggle("active", button.dataset.tab === name);
  for (const panel of $$(".panel")) panel.hidden = panel.id !== `tab-${name}`;
  window.dispatchEvent(new Event("resize")); // charts drawn in a hidden tab take their size now
}

async function start() {
  OPTIONS = await request("GET", "/api/options");
  state.scenario = { ...structuredClone(OPTIONS.scenario), protocol: "standard" };
  state.trial = structuredClone(OPTIONS.trial);
  state.trial.arms = state.trial.arms.map((arm) => ({ ...arm, protocol: "standard" }));
  state.restim = structuredClone(OPTIONS.restim);
  state.mouse = structuredClone(OPTIONS.mouse);

  const populations = Object.keys(OPTIONS.populations);
  options($("#population"), populations);
  $("#population").value = OPTIONS.default_population;
  options($("#trial-population"), populations);
  for (const select of $$("#patient-form [data-type=preset]")) presetSelect(select);
  options($("#patient-form [data-path='product.costimulation']"), OPTIONS.costimulation);
  renderPatientForm();
  renderPlainForm($("#trial-form"), state.trial);
  renderArms();
  renderPlainForm($("#restim-form"), state.restim);
  renderPlainForm($("#mouse-form"), state.mouse);
  $("#trial-draws").value = OPTIONS.posterior_draws.default;
  $("#trial-draws").disabled = true;
  $("#trial-limit").textContent = `This server runs at most ${OPTIONS.limits.max_patients} patients per trial (all arms and posterior draws), ` +
    `each run for at most ${OPTIONS.limits.run_seconds} s.`;
  $("#footer").textContent = `cartsim ${OPTIONS.version}. Plotly.js is served by this server: the page works offline.`;

  for (const button of $$(".tab")) button.addEventListener("click", () => showTab(button.dataset.tab));
  $("#patient-form").addEventListener("change", (event) => { if (event.target.dataset.path) editPatient(event.target); });
  $("#patient-form").addEventListener("submit", runPatient);
  $("#draw-patient").addEventListener("click", drawPatient);
  $("#replay").addEventListener("click", play);
  $("#replay-day").addEventListener("input", (event) => { clearInterval(replay.timer); showDay(Number(event.target.value)); });
  $("#scenario-file").addEventListener("change", loadScenario);
  for (const what of Object.keys(EDITORS)) {
    $(`#${what}-yaml`).addEventListener("click", () => editYaml(what));
    $(`#${what}-apply`).addEventListener("click", () => applyYaml(what, $(EDITORS[what].text).value));
    $(`#${what}-download`).addEventListener("click", () => saveText($(EDITORS[what].text).value, `${what}.yaml`));
  }

  $("#trial-form").addEventListener("change", (event) => {
    if (event.target.closest(".arm")) editArm(event.target);
    else editPlain(state.trial, event.target);
  });
  $("#trial-form").addEventListener("click", (event) => {
    if (!event.target.classList.contains("remove-arm")) return;
    state.trial.arms.splice(Number(event.target.closest(".arm").dataset.arm), 1);
    renderArms();
  });
  $("#add-arm").addEventListener("click", () => {
    state.trial.arms.push({ name: `arm ${state.trial.arms.length + 1}`, product: {}, protocol: "standard" });
    renderArms();
  });
  $("#trial-posterior").addEventListener("change", (event) => { $("#trial-draws").disabled = !event.target.checked; });
  $("#trial-form").addEventListener("submit", (event) => {
    event.preventDefault();
    // The draws as typed: the server's 422 names the field when they are out of range.
    const query = $("#trial-posterior").checked ? `?posterior=shipped&draws=${encodeURIComponent($("#trial-draws").value.trim())}` : "";
    followTrial((onStatus) => startRun("trial", state.trial, onStatus, query));
  });
  $("#cancel-trial").addEventListener("click", () => request("DELETE", `/api/runs/${trial.id}`));
  $("#resume-trial").addEventListener("click", () => followTrial(
    async (onStatus) => followRun(await request("POST", `/api/runs/${trial.id}/resume`), onStatus)));

  for (const kind of ["restim", "mouse"]) {
    const form = $(`#${kind}-form`);
    form.addEventListener("change", (event) => editPlain(state[kind], event.target));
    form.addEventListener("submit", (event) => runLab(kind, event));
  }
  document.body.dataset.ready = "true";
}

start().catch((error) => { document.body.textContent = `cartsim could not start: ${error.message}`; });
