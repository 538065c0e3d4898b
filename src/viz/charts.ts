/**
 * The browser charts shared by the live dashboard and the demo page: Chart.js (served from the
 * installed `chart.js` package, so pages work offline) driven by a small script that turns window
 * rows, drift marks and a mixture view into charts.
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MonitoringError } from '../monitoring/errors.js';
import type { Bounds } from './svg.js';

/** One window as the timeline charts draw it. */
export interface TimelineRow {
  readonly windowIndex: number;
  readonly modelVersion: number;
  /** ms since the epoch. */
  readonly fittedAt: number;
  readonly n: number;
  readonly iterations: number;
  readonly restarted: boolean;
  readonly logLikelihood: number | null;
  readonly predictiveLogLikelihood: number | null;
  readonly expectedLogLikelihood: number | null;
  readonly modelDistance: number | null;
  readonly distanceThreshold: number | null;
  readonly pageHinkley: number | null;
  readonly pageHinkleyThreshold: number | null;
  readonly weights: readonly number[];
  /** Vectors per second since the previous window, when it can be told. */
  readonly rate: number | null;
  /** Consumer lag (messages) when the window was fitted, when known. */
  readonly lag: number | null;
}

/** A drift alarm on the time axis. */
export interface DriftMark {
  readonly windowIndex: number;
  readonly modelVersion: number;
  readonly kind: string;
  readonly statistic: number | null;
  readonly threshold: number | null;
  /** Labels of the components that moved (named by a `component` alarm, else with a distance above the threshold). */
  readonly moved: readonly number[];
}

/** The current mixture, projected on the plane (see `mixtureView` in src/dashboard/projection.ts). */
export interface MixtureView {
  readonly windowIndex: number;
  readonly modelVersion: number;
  /** Dimension of the model. */
  readonly d: number;
  /** Axis titles. */
  readonly axes: { readonly x: string; readonly y: string };
  /** Fixed axes limits. */
  readonly bounds: Bounds;
  /** Sample of the latest window: coordinates and labels. */
  readonly points: { readonly x: readonly number[]; readonly y: readonly number[]; readonly labels: readonly number[] };
  readonly components: readonly {
    readonly index: number;
    readonly weight: number;
    readonly mean: readonly [number, number];
    /** Closed polylines x, y, x, y, … */
    readonly sigma1: readonly number[];
    readonly sigma2: readonly number[];
  }[];
}

/** File name under which pages load Chart.js (relative to their assets folder). */
export const CHART_JS_ASSET = 'chart.umd.min.js';

/**
 * The Chart.js browser build (UMD) of the installed `chart.js` package.
 *
 * @returns an absolute file path
 * @throws MonitoringError when the package or its browser build is missing (reinstall the dependencies)
 */
export function chartJsFile(): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('chart.js');
  } catch (err) {
    throw new MonitoringError('the chart.js package is not installed: run npm install (it is a dependency of emstream)', { cause: err });
  }
  for (const name of [CHART_JS_ASSET, 'chart.umd.js']) {
    const file = join(dirname(entry), name);
    if (existsSync(file)) return file;
  }
  throw new MonitoringError(`the chart.js package in ${dirname(entry)} has no browser build (${CHART_JS_ASSET}): reinstall it with npm install`);
}

/**
 * Copies Chart.js next to a static page, so that it opens offline (and from `file://`).
 *
 * @param dir - the page's assets folder (created if missing)
 * @returns the copied file's name inside `dir`
 */
export function copyChartJs(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(chartJsFile(), join(dir, CHART_JS_ASSET));
  return CHART_JS_ASSET;
}

/**
 * The browser side: defines `window.emstreamCharts` with
 * - `timeline(canvas, kind)` → `{ chart, set(rows, drift, cursor?) }`, kind `'likelihood'` (fitted,
 *   predictive and expected log-likelihood), `'drift'` (Page-Hinkley statistic and λ, model distance
 *   and its threshold), `'weights'` (one line per component), `'throughput'` (vectors/s and consumer
 *   lag); drift alarms are vertical dashed lines at their window, `cursor` a grey line at a window;
 * - `mixture(canvas)` → `{ chart, set(view) }`: sample points coloured by label, 1σ (solid) and 2σ
 *   (dashed) ellipses, means as crosses, on the view's fixed limits with equal units on both axes.
 * Datasets carry a `role` (`'drift'`, `'cursor'`, `'points'`, `'sigma1'`, `'sigma2'`, `'mean'`) so
 * tests can find them. Needs Chart.js (`window.Chart`) loaded first.
 */
export const CHARTS_SCRIPT = String.raw`(function () {
  'use strict';
  var PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];
  var GREY = '#999999';
  var DRIFT = '#C0392B';
  function colour(k) { return k < 0 ? GREY : PALETTE[k % PALETTE.length]; }
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function field(name) { return function (r) { return num(r[name]); }; }

  var KINDS = {
    likelihood: { y: 'log-likelihood per point (nats)', series: [
      { label: 'fitted', get: field('logLikelihood'), colour: '#0072B2' },
      { label: 'predictive (previous model)', get: field('predictiveLogLikelihood'), colour: '#E69F00' },
      { label: 'expected complete-data', get: field('expectedLogLikelihood'), colour: '#009E73', dash: [2, 2] }
    ] },
    drift: { y: 'drift statistic', series: [
      { label: 'Page-Hinkley statistic', get: field('pageHinkley'), colour: '#CC79A7' },
      { label: 'Page-Hinkley threshold λ', get: field('pageHinkleyThreshold'), colour: '#CC79A7', dash: [6, 4], stepped: true },
      { label: 'model distance', get: field('modelDistance'), colour: '#0072B2' },
      { label: 'distance threshold', get: field('distanceThreshold'), colour: '#0072B2', dash: [6, 4], stepped: true }
    ] },
    throughput: { y: 'vectors per second', min: 0, y2: 'consumer lag (messages)', series: [
      { label: 'throughput (vectors/s)', get: field('rate'), colour: '#009E73' },
      { label: 'consumer lag (messages)', get: field('lag'), colour: '#D55E00', axis: 'y2' }
    ] },
    weights: { y: 'component weight π', min: 0, max: 1, series: null }
  };

  function weightSeries(rows) {
    var k = 0;
    for (var i = 0; i < rows.length; i++) k = Math.max(k, rows[i].weights ? rows[i].weights.length : 0);
    var out = [];
    for (var c = 0; c < k; c++) {
      (function (c) {
        out.push({ label: 'k=' + c, colour: colour(c), get: function (r) { return r.weights && c < r.weights.length ? num(r.weights[c]) : null; } });
      })(c);
    }
    return out;
  }

  function verticals(xs) {
    var data = [];
    for (var i = 0; i < xs.length; i++) data.push({ x: xs[i], y: 0 }, { x: xs[i], y: 1 }, { x: xs[i], y: null });
    return data;
  }

  function timeline(canvas, kind) {
    var spec = KINDS[kind];
    if (!spec) throw new Error('unknown timeline kind ' + kind);
    var scales = {
      x: { type: 'linear', title: { display: true, text: 'window' }, ticks: { precision: 0, includeBounds: false } },
      y: { type: 'linear', title: { display: true, text: spec.y } },
      mark: { type: 'linear', axis: 'y', display: false, min: 0, max: 1 }
    };
    if (spec.min !== undefined) scales.y.min = spec.min;
    if (spec.max !== undefined) scales.y.max = spec.max;
    if (spec.y2) scales.y2 = { type: 'linear', axis: 'y', position: 'right', min: 0, title: { display: true, text: spec.y2 }, grid: { drawOnChartArea: false } };
    var chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.6, tension: 0 } },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 16, boxHeight: 2, font: { size: 11 } } },
          tooltip: { filter: function (item) { return !item.dataset.role; } }
        },
        scales: scales
      }
    });
    return {
      chart: chart,
      set: function (rows, drift, cursor) {
        var series = spec.series || weightSeries(rows);
        var datasets = [];
        for (var s = 0; s < series.length; s++) {
          var data = new Array(rows.length);
          for (var i = 0; i < rows.length; i++) data[i] = { x: rows[i].windowIndex, y: series[s].get(rows[i]) };
          datasets.push({ label: series[s].label, data: data, borderColor: series[s].colour, backgroundColor: series[s].colour,
            borderDash: series[s].dash || [], stepped: !!series[s].stepped, yAxisID: series[s].axis || 'y', spanGaps: false });
        }
        var xs = [];
        for (var d = 0; d < drift.length; d++) xs.push(drift[d].windowIndex);
        datasets.push({ label: 'drift alarm', role: 'drift', data: verticals(xs), yAxisID: 'mark', borderColor: DRIFT, backgroundColor: DRIFT,
          borderDash: [5, 3], borderWidth: 1.5, spanGaps: false });
        if (typeof cursor === 'number') {
          datasets.push({ label: 'shown window', role: 'cursor', data: verticals([cursor]), yAxisID: 'mark', borderColor: '#555555', backgroundColor: '#555555', borderWidth: 2, spanGaps: false });
        }
        if (rows.length > 0) {
          chart.options.scales.x.min = rows[0].windowIndex - 0.5;
          chart.options.scales.x.max = rows[rows.length - 1].windowIndex + 0.5;
        }
        chart.data.datasets = datasets;
        chart.update('none');
      }
    };
  }

  function polyline(flat) {
    var out = [];
    for (var i = 0; i + 1 < flat.length; i += 2) out.push({ x: flat[i], y: flat[i + 1] });
    return out;
  }

  function mixture(canvas) {
    var chart = new Chart(canvas, {
      type: 'scatter',
      data: { datasets: [] },
      options: {
        animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          legend: { position: 'bottom', labels: { font: { size: 11 }, filter: function (item, data) { return data.datasets[item.datasetIndex].role === 'points'; } } },
          tooltip: { enabled: false }
        },
        scales: { x: { type: 'linear', title: { display: true, text: 'x₁' }, ticks: { includeBounds: false } }, y: { type: 'linear', title: { display: true, text: 'x₂' }, ticks: { includeBounds: false } } }
      }
    });
    var base = null;
    function equalUnits() {
      var area = chart.chartArea;
      if (!base || !area || area.width <= 0 || area.height <= 0) return false;
      var w = base.maxX - base.minX, h = base.maxY - base.minY;
      var sx = area.width / w, sy = area.height / h;
      var x = chart.options.scales.x, y = chart.options.scales.y;
      var want;
      if (sx > sy) { want = { minX: (base.minX + base.maxX) / 2 - area.width / sy / 2, maxX: (base.minX + base.maxX) / 2 + area.width / sy / 2, minY: base.minY, maxY: base.maxY }; }
      else { want = { minX: base.minX, maxX: base.maxX, minY: (base.minY + base.maxY) / 2 - area.height / sx / 2, maxY: (base.minY + base.maxY) / 2 + area.height / sx / 2 }; }
      if (Math.abs(x.min - want.minX) + Math.abs(x.max - want.maxX) + Math.abs(y.min - want.minY) + Math.abs(y.max - want.maxY) < 1e-9 * (w + h)) return false;
      x.min = want.minX; x.max = want.maxX; y.min = want.minY; y.max = want.maxY;
      return true;
    }
    window.addEventListener('resize', function () { if (equalUnits()) chart.update('none'); });
    return {
      chart: chart,
      set: function (view) {
        var datasets = [];
        if (view) {
          var k = view.components.length;
          var byLabel = [];
          for (var c = 0; c <= k; c++) byLabel.push([]);
          for (var i = 0; i < view.points.x.length; i++) {
            var l = view.points.labels[i];
            byLabel[l >= 0 && l < k ? l : k].push({ x: view.points.x[i], y: view.points.y[i] });
          }
          for (c = 0; c < k; c++) {
            var comp = view.components[c];
            datasets.push({ label: 'k=' + comp.index + '  π=' + comp.weight.toFixed(2), role: 'points', component: comp.index, data: byLabel[c],
              backgroundColor: rgba(colour(comp.index), 0.55), borderColor: colour(comp.index), borderWidth: 0, pointRadius: 2.2 });
          }
          if (byLabel[k].length > 0) datasets.push({ label: 'unlabelled', role: 'points', component: -1, data: byLabel[k], backgroundColor: rgba(GREY, 0.55), borderWidth: 0, pointRadius: 2.2 });
          for (c = 0; c < k; c++) {
            comp = view.components[c];
            datasets.push({ label: '2σ k=' + comp.index, role: 'sigma2', component: comp.index, data: polyline(comp.sigma2), showLine: true,
              borderColor: colour(comp.index), borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false });
            datasets.push({ label: '1σ k=' + comp.index, role: 'sigma1', component: comp.index, data: polyline(comp.sigma1), showLine: true,
              borderColor: colour(comp.index), borderWidth: 2.2, pointRadius: 0, fill: false });
          }
          for (c = 0; c < k; c++) {
            comp = view.components[c];
            datasets.push({ label: 'mean k=' + comp.index, role: 'mean', component: comp.index, data: [{ x: comp.mean[0], y: comp.mean[1] }],
              pointStyle: 'crossRot', pointRadius: 9, borderWidth: 3.5, borderColor: colour(comp.index), backgroundColor: colour(comp.index) });
          }
          base = view.bounds;
          var sc = chart.options.scales;
          sc.x.min = base.minX; sc.x.max = base.maxX; sc.y.min = base.minY; sc.y.max = base.maxY;
          sc.x.title.text = view.axes.x; sc.y.title.text = view.axes.y;
        }
        chart.data.datasets = datasets;
        chart.update('none');
        if (equalUnits()) chart.update('none');
      }
    };
  }

  window.emstreamCharts = { timeline: timeline, mixture: mixture, colour: colour };
})();
`;
