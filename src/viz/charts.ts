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
  /** The largest per-component drift score (−log₁₀ adjusted p) and its alarm threshold, when known. */
  readonly componentStatistic: number | null;
  readonly componentThreshold: number | null;
  /** The weights drift score (−log₁₀ p of the G-test) and its alarm threshold, when known. */
  readonly weightsStatistic: number | null;
  readonly weightsThreshold: number | null;
  /** The model was drifting after this window (null: not known). */
  readonly drifting: boolean | null;
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
 *   predictive and expected log-likelihood, on a robust axis: one deep dip is drawn as a triangle at the
 *   axis' edge, its value in the tooltip), `'drift'` (every statistic that can raise an alarm —
 *   Page-Hinkley, model distance, component tests, weights test — divided by its threshold, against the
 *   threshold line at 1; clipped at 3), `'weights'` (one line per component), `'throughput'` (vectors/s and
 *   consumer lag); drift alarms are vertical lines at their window, one colour and dash per kind with the
 *   kind written at the top; drifting windows a light band; `cursor` a grey line at a window;
 * - `mixture(canvas)` → `{ chart, set(view) }`: sample points coloured by label, 1σ (solid) and 2σ
 *   (dashed) ellipses, means as crosses, on the view's fixed limits with equal units on both axes.
 * Datasets carry a `role` (`'drift'` with its `kind`, `'threshold'`, `'clipped'`, `'drifting'`, `'cursor'`,
 * `'points'`, `'sigma1'`, `'sigma2'`, `'mean'`) so tests can find them; the drift chart's series carry their
 * alarm `kind`. Needs Chart.js (`window.Chart`) loaded first.
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

  /** Alarm kinds: colour, dash and the short name written at the top of their lines. */
  var ALARMS = {
    likelihood: { colour: '#C0392B', dash: [5, 3], name: 'likelihood' },
    'model-distance': { colour: '#8E44AD', dash: [2, 2], name: 'distance' },
    component: { colour: '#D35400', dash: [8, 3], name: 'component' },
    weights: { colour: '#16A085', dash: [3, 3, 8, 3], name: 'weights' }
  };
  function ratio(stat, threshold) {
    return function (r) {
      var s = num(r[stat]), t = num(r[threshold]);
      return s === null || t === null || t <= 0 ? null : s / t;
    };
  }
  function one() { return 1; }

  var KINDS = {
    likelihood: { y: 'log-likelihood per point (nats)', robust: true, series: [
      { label: 'fitted', get: field('logLikelihood'), colour: '#0072B2' },
      { label: 'predictive (previous model)', get: field('predictiveLogLikelihood'), colour: '#E69F00' },
      { label: 'expected complete-data', get: field('expectedLogLikelihood'), colour: '#009E73', dash: [2, 2] }
    ] },
    drift: { y: 'statistic ÷ its alarm threshold', min: 0, clip: 3, series: [
      { label: 'Page-Hinkley (likelihood) ÷ λ', kind: 'likelihood', get: ratio('pageHinkley', 'pageHinkleyThreshold'), raw: field('pageHinkley'), threshold: field('pageHinkleyThreshold'), colour: ALARMS.likelihood.colour },
      { label: 'model distance ÷ threshold', kind: 'model-distance', get: ratio('modelDistance', 'distanceThreshold'), raw: field('modelDistance'), threshold: field('distanceThreshold'), colour: ALARMS['model-distance'].colour },
      { label: 'component tests ÷ threshold', kind: 'component', get: ratio('componentStatistic', 'componentThreshold'), raw: field('componentStatistic'), threshold: field('componentThreshold'), colour: ALARMS.component.colour },
      { label: 'weights test ÷ threshold', kind: 'weights', get: ratio('weightsStatistic', 'weightsThreshold'), raw: field('weightsStatistic'), threshold: field('weightsThreshold'), colour: ALARMS.weights.colour },
      { label: 'alarm threshold (every kind)', role: 'threshold', get: one, colour: '#555555', dash: [6, 4], stepped: true }
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

  function quantile(sorted, q) {
    var pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  /**
   * A y range that stays readable when a few values are far from the rest (one deep dip of the predictive
   * log-likelihood after a jump): the 10th–90th percentile band widened by 1.5 times its width on each side,
   * never beyond the data; values outside are drawn at the edge as triangles (role 'clipped').
   */
  function robustRange(values) {
    var v = values.filter(function (x) { return x !== null && isFinite(x); }).sort(function (a, b) { return a - b; });
    if (v.length === 0) return null;
    var lo = quantile(v, 0.1), hi = quantile(v, 0.9), w = Math.max(hi - lo, 1e-6 * Math.max(1, Math.abs(hi)));
    var min = Math.max(v[0], lo - 1.5 * w), max = Math.min(v[v.length - 1], hi + 1.5 * w);
    var pad = 0.05 * Math.max(max - min, 1e-6 * Math.max(1, Math.abs(max)));
    return { min: min - pad, max: max + pad, clipped: v[0] < min || v[v.length - 1] > max };
  }

  /** Writes each alarm line's kind at its top (datasets of role 'drift' carry their kind). */
  var alarmLabels = {
    id: 'emstreamAlarmLabels',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, area = chart.chartArea;
      ctx.save();
      ctx.font = '10px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      var taken = {};
      chart.data.datasets.forEach(function (d, i) {
        if (d.role !== 'drift' || chart.getDatasetMeta(i).hidden) return;
        for (var j = 0; j < d.data.length; j += 3) {
          var px = chart.scales.x.getPixelForValue(d.data[j].x);
          if (px < area.left || px > area.right) continue;
          var row = taken[Math.round(px)] = (taken[Math.round(px)] || 0) + 1;
          ctx.fillStyle = d.borderColor;
          ctx.fillText(ALARMS[d.kind] ? ALARMS[d.kind].name : d.kind, px + 3, area.top + 2 + 11 * (row - 1));
        }
      });
      ctx.restore();
    }
  };

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
      plugins: [alarmLabels],
      options: {
        animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.6, tension: 0 } },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 16, boxHeight: 2, font: { size: 11 } } },
          tooltip: {
            filter: function (item) { return !item.dataset.role || item.dataset.role === 'clipped'; },
            callbacks: {
              label: function (item) {
                var p = item.raw;
                if (p && typeof p.value === 'number') return item.dataset.label + ': ' + p.value.toPrecision(4) + (typeof p.threshold === 'number' ? ' (threshold ' + p.threshold.toPrecision(3) + ')' : '');
                return item.dataset.label + ': ' + (typeof item.parsed.y === 'number' ? item.parsed.y.toPrecision(4) : '—');
              }
            }
          }
        },
        scales: scales
      }
    });
    return {
      chart: chart,
      set: function (rows, drift, cursor) {
        var series = spec.series || weightSeries(rows);
        var datasets = [];
        var all = [];
        for (var s = 0; s < series.length; s++) {
          var data = new Array(rows.length);
          for (var i = 0; i < rows.length; i++) {
            var y = series[s].get(rows[i]);
            data[i] = series[s].raw ? { x: rows[i].windowIndex, y: y, value: series[s].raw(rows[i]), threshold: series[s].threshold(rows[i]) } : { x: rows[i].windowIndex, y: y };
            if (!series[s].role) all.push(y);
          }
          datasets.push({ label: series[s].label, role: series[s].role, kind: series[s].kind, data: data, borderColor: series[s].colour, backgroundColor: series[s].colour,
            borderDash: series[s].dash || [], stepped: !!series[s].stepped, yAxisID: series[s].axis || 'y', spanGaps: false });
        }
        // The y range: a clip for the drift ratios, a robust range for the log-likelihoods; what is beyond is marked.
        var range = null;
        if (spec.clip !== undefined) {
          var top = 0;
          for (var a = 0; a < all.length; a++) if (all[a] !== null && isFinite(all[a])) top = Math.max(top, all[a]);
          range = { min: 0, max: Math.min(spec.clip, Math.max(1.2, top * 1.05)) };
        } else if (spec.robust) range = robustRange(all);
        if (range !== null) {
          chart.options.scales.y.min = range.min;
          chart.options.scales.y.max = range.max;
          var beyond = [];
          for (s = 0; s < datasets.length; s++) {
            if (datasets[s].role) continue;
            for (i = 0; i < datasets[s].data.length; i++) {
              var p = datasets[s].data[i];
              if (p.y === null || !isFinite(p.y) || (p.y >= range.min && p.y <= range.max)) continue;
              beyond.push({ x: p.x, y: p.y > range.max ? range.max : range.min, value: p.value !== undefined ? p.value : p.y, threshold: p.threshold, series: datasets[s].label, up: p.y > range.max });
            }
          }
          if (beyond.length > 0) {
            datasets.push({ label: 'beyond the axis (▲▼; value in the tooltip)', role: 'clipped', data: beyond, showLine: false, borderColor: '#333333', backgroundColor: '#333333',
              pointStyle: 'triangle', pointRadius: 5, pointRotation: beyond.map(function (b) { return b.up ? 0 : 180; }), yAxisID: 'y' });
          }
        }
        // Drifting windows: a light band; alarms: one dataset per kind, labelled.
        var driftingXs = [];
        for (i = 0; i < rows.length; i++) if (rows[i].drifting === true) driftingXs.push(rows[i].windowIndex);
        if (driftingXs.length > 0) {
          var band = [];
          for (i = 0; i < driftingXs.length; i++) band.push({ x: driftingXs[i] - 0.5, y: 1 }, { x: driftingXs[i] + 0.5, y: 1 }, { x: driftingXs[i] + 0.5, y: null });
          datasets.push({ label: 'drifting', role: 'drifting', data: band, yAxisID: 'mark', borderColor: 'rgba(192,57,43,0.0)', backgroundColor: 'rgba(192,57,43,0.08)', fill: 'origin', spanGaps: false, pointRadius: 0 });
        }
        var byKind = {};
        for (var d = 0; d < drift.length; d++) (byKind[drift[d].kind] = byKind[drift[d].kind] || []).push(drift[d].windowIndex);
        Object.keys(byKind).sort().forEach(function (k) {
          var style = ALARMS[k] || { colour: DRIFT, dash: [5, 3] };
          datasets.push({ label: k + ' alarm', role: 'drift', kind: k, data: verticals(byKind[k]), yAxisID: 'mark', borderColor: style.colour, backgroundColor: style.colour,
            borderDash: style.dash, borderWidth: 1.5, spanGaps: false });
        });
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

  window.emstreamCharts = { timeline: timeline, mixture: mixture, colour: colour, robustRange: robustRange, alarms: ALARMS };
})();
`;
