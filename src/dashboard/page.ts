/**
 * The dashboard page: its HTML, its style and the script that follows the server-sent events.
 *
 * @module
 */
import { escapeHtml } from '../viz/gallery.js';
import { CHART_JS_ASSET } from '../viz/charts.js';

/** The page's stylesheet (`assets/dashboard.css`). */
export const DASHBOARD_STYLE = `
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #f4f5f7; }
header { padding: 14px 20px 8px; background: #fff; border-bottom: 1px solid #ddd; }
h1 { font-size: 20px; font-weight: 600; margin: 0 0 4px; }
#description { margin: 0 0 6px; color: #444; font-size: 14px; max-width: 1100px; }
#status { margin: 0; font-size: 13px; color: #333; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; background: #bbb; color: #fff; font-weight: 600; margin-right: 6px; }
.badge.live { background: #2e7d32; }
.badge.down { background: #c62828; }
.badge.ended { background: #555; }
main.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; padding: 12px 20px 20px; }
.panel { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px 10px; min-width: 0; }
.panel.mixture { grid-row: span 2; }
h2 { font-size: 14px; font-weight: 600; margin: 2px 0 6px; }
h2 small { font-weight: 400; color: #555; }
.chart { position: relative; height: 260px; }
.chart.tall { height: 540px; }
.note { font-size: 12px; color: #555; margin: 6px 0 0; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; }
th { color: #555; font-weight: 600; }
@media (max-width: 900px) { main.grid { grid-template-columns: minmax(0, 1fr); } .panel.mixture { grid-row: auto; } }
`;

/** The page's script (`assets/dashboard.js`): follows `events` (server-sent events) and redraws at most once per frame. */
export const DASHBOARD_SCRIPT = String.raw`(function () {
  'use strict';
  var C = window.emstreamCharts;
  function el(id) { return document.getElementById(id); }
  var charts = {
    mixture: C.mixture(el('chart-mixture')),
    likelihood: C.timeline(el('chart-likelihood'), 'likelihood'),
    drift: C.timeline(el('chart-drift'), 'drift'),
    weights: C.timeline(el('chart-weights'), 'weights'),
    throughput: C.timeline(el('chart-throughput'), 'throughput')
  };
  var state = { rows: [], drift: [], mixture: null, status: { state: 'live', message: 'connecting' }, windows: 0, maxWindows: 10000 };
  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    (window.requestAnimationFrame || function (f) { setTimeout(f, 16); })(render);
  }
  function fmt(v, digits) { return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—'; }
  function setConnection(kind, text) {
    var b = el('connection');
    b.className = 'badge ' + kind;
    b.textContent = text;
  }
  function render() {
    pending = false;
    charts.likelihood.set(state.rows, state.drift);
    charts.drift.set(state.rows, state.drift);
    charts.weights.set(state.rows, state.drift);
    charts.throughput.set(state.rows, state.drift);
    charts.mixture.set(state.mixture);
    var last = state.rows[state.rows.length - 1];
    el('summary').textContent = state.windows + ' windows' +
      (last ? ' · last window ' + last.windowIndex + ' (model v' + last.modelVersion + ', K = ' + last.weights.length + ', predictive log-likelihood ' + fmt(last.predictiveLogLikelihood, 3) + ')' : '') +
      ' · ' + state.drift.length + ' drift alarms · ' + state.status.message;
    var m = state.mixture;
    el('mixture-caption').textContent = m ? 'window ' + m.windowIndex + ' · model v' + m.modelVersion + ' · ' +
      (m.d > 2 ? 'D = ' + m.d + ', projected on the first two principal axes of the mixture' : 'D = ' + m.d) : 'no model yet';
    var body = el('drift-rows');
    while (body.firstChild) body.removeChild(body.firstChild);
    for (var i = state.drift.length - 1; i >= 0 && i >= state.drift.length - 20; i--) {
      var d = state.drift[i];
      var tr = document.createElement('tr');
      var cells = [String(d.windowIndex), d.kind, fmt(d.statistic, 3) + ' > ' + fmt(d.threshold, 3), d.moved.length ? d.moved.join(', ') : '—'];
      for (var c = 0; c < cells.length; c++) {
        var td = document.createElement('td');
        td.textContent = cells[c];
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    if (state.status.state !== 'live') setConnection(state.status.state === 'failed' ? 'down' : 'ended', state.status.state);
  }
  var source = new EventSource('events');
  function on(name, apply) {
    source.addEventListener(name, function (e) {
      try { apply(JSON.parse(e.data)); } catch (err) { el('summary').textContent = 'could not read a ' + name + ' event: ' + err; return; }
      schedule();
    });
  }
  on('snapshot', function (s) {
    state.rows = s.rows; state.drift = s.drift; state.mixture = s.mixture; state.status = s.status;
    state.windows = s.windows; state.maxWindows = s.maxWindows;
  });
  on('window', function (r) {
    state.rows.push(r);
    state.windows++;
    if (state.rows.length > state.maxWindows) state.rows.splice(0, state.rows.length - state.maxWindows);
  });
  on('drift', function (d) { state.drift.push(d); });
  on('mixture', function (v) { state.mixture = v; });
  on('status', function (s) { state.status = s; });
  source.onopen = function () { if (state.status.state === 'live') setConnection('live', 'live'); };
  source.onerror = function () { setConnection('down', source.readyState === 2 ? 'disconnected' : 'reconnecting…'); };
})();
`;

/**
 * The dashboard's HTML: header (title, description, connection and summary), the mixture picture,
 * the timelines (log-likelihood, drift statistics, weights, throughput and lag) and the latest drift
 * alarms. It loads only its own assets (relative URLs, so it also works behind a path prefix).
 *
 * @param title - plain text
 * @param description - plain text (may be empty)
 * @returns the HTML document
 */
export function renderDashboardHtml(title: string, description: string): string {
  const panel = (id: string, heading: string, extra = ''): string =>
    `<section class="panel"><h2>${heading}</h2><div class="chart"><canvas id="chart-${id}" aria-label="${escapeHtml(heading)}"></canvas></div>${extra}</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="assets/dashboard.css">
</head>
<body>
<header>
<h1 id="title">${escapeHtml(title)}</h1>
${description === '' ? '' : `<p id="description">${escapeHtml(description)}</p>`}
<p id="status"><span id="connection" class="badge">connecting…</span><span id="summary">waiting for windows</span></p>
</header>
<main class="grid">
<section class="panel mixture"><h2>Current mixture <small id="mixture-caption"></small></h2><div class="chart tall"><canvas id="chart-mixture" aria-label="current mixture"></canvas></div>
<p class="note">Points: a sample of the latest window, coloured by label. × mean, solid line 1σ, dashed line 2σ ellipse of each component. The axes stay fixed (they only widen when the data leaves them).</p></section>
${panel('likelihood', 'Log-likelihood per window', '<p class="note">Predictive: the window under the previous model, before the update; it falls when the data stops fitting (a value far below the rest: ▼ at the edge, its value in the tooltip). Vertical lines: drift alarms, by kind.</p>')}
${panel('drift', 'Drift statistics ÷ their alarm thresholds', '<p class="note">Page-Hinkley, model distance, component tests and weights test, each divided by its threshold: a kind alarms when it crosses 1, once per change. Shaded: drifting. Vertical lines: alarms, one colour per kind.</p>')}
${panel('weights', 'Component weights')}
${panel('throughput', 'Throughput and consumer lag')}
<section class="panel"><h2>Latest drift alarms</h2><table><thead><tr><th>window</th><th>kind</th><th>statistic &gt; threshold</th><th>components moved</th></tr></thead><tbody id="drift-rows"></tbody></table></section>
</main>
<script src="assets/${CHART_JS_ASSET}"></script>
<script src="assets/charts.js"></script>
<script src="assets/dashboard.js"></script>
</body>
</html>
`;
}
