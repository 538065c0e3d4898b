import { CHART_JS_ASSET, CHARTS_SCRIPT, type DriftMark, type TimelineRow } from './charts.js';

/** One frame of a gallery: an image file relative to the HTML page, and its caption. */
export interface GalleryFrame {
  /** Path of the image relative to the page, `/`-separated; each segment is percent-encoded into the URL. */
  readonly file: string;
  /** Text shown under the image (plain text, escaped). */
  readonly caption: string;
  /** The window the frame shows, to mark it on the timeline. */
  readonly windowIndex?: number;
}

/** Options of {@link renderGalleryHtml}. */
export interface GalleryOptions {
  /** A short paragraph under the title that says what the frames show (plain text). */
  readonly description?: string;
  /**
   * Charts under the player: log-likelihood per window and every drift statistic against its threshold, drift alarms marked by kind,
   * the shown frame's window as a cursor (clicking a chart shows the nearest frame). They need
   * Chart.js next to the page (see `copyChartJs`).
   */
  readonly timeline?: { readonly rows: readonly TimelineRow[]; readonly drift: readonly DriftMark[] };
  /** URL of Chart.js relative to the page (default `assets/chart.umd.min.js`). */
  readonly chartJs?: string;
}

/**
 * Escapes text for HTML character data and attribute values.
 *
 * @param text - any string
 * @returns the string with `& < > " '` replaced by character references
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ENTITIES[ch]);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A relative path as a URL: each `/`-separated segment percent-encoded (so `#`, `?`, spaces stay in the file name). */
function fileUrl(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

/** JSON that is safe inside an inline `<script>` element (no `</script>`, `<!--`, or JS line separators). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; font-weight: 600; }
#player { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px; max-width: 900px; }
#player img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
#player .controls { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
#player input[type=range] { flex: 1; }
#player-caption { text-align: center; margin-top: 6px; min-height: 1.2em; }
#description { max-width: 900px; line-height: 1.45; }
#timeline { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px; max-width: 900px; margin-top: 12px; }
#timeline h2 { font-size: 15px; font-weight: 600; margin: 4px 0 8px; }
#timeline .chart { position: relative; height: 240px; margin-bottom: 10px; }
#timeline p { font-size: 13px; color: #555; margin: 4px 0 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 12px; margin-top: 24px; }
.grid figure { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; cursor: pointer; }
.grid figure.current { outline: 2px solid #0072B2; }
.grid img { width: 100%; height: auto; display: block; }
.grid figcaption { font-size: 13px; margin-top: 4px; }
`;

const SCRIPT = `
(function () {
  var frames = JSON.parse(document.getElementById('frames').textContent);
  var img = document.getElementById('player-img');
  var caption = document.getElementById('player-caption');
  var slider = document.getElementById('player-slider');
  var counter = document.getElementById('player-counter');
  var playButton = document.getElementById('player-play');
  var figures = document.querySelectorAll('.grid figure');
  var index = 0;
  var timer = null;
  function show(i) {
    index = (i + frames.length) % frames.length;
    if (window.emstreamTimeline) window.emstreamTimeline.cursor(frames[index].windowIndex);
    img.src = frames[index].url;
    img.alt = frames[index].caption;
    caption.textContent = frames[index].caption;
    slider.value = String(index);
    counter.textContent = (index + 1) + ' / ' + frames.length;
    for (var j = 0; j < figures.length; j++) figures[j].classList.toggle('current', j === index);
  }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; playButton.textContent = 'Play'; } }
  function play() {
    if (timer !== null) { stop(); return; }
    playButton.textContent = 'Pause';
    timer = setInterval(function () { if (index === frames.length - 1) stop(); else show(index + 1); }, 700);
  }
  document.getElementById('player-prev').addEventListener('click', function () { stop(); show(index - 1); });
  document.getElementById('player-next').addEventListener('click', function () { stop(); show(index + 1); });
  playButton.addEventListener('click', play);
  slider.addEventListener('input', function () { stop(); show(Number(slider.value)); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowLeft') { stop(); show(index - 1); }
    else if (e.key === 'ArrowRight') { stop(); show(index + 1); }
  });
  for (var j = 0; j < figures.length; j++) {
    (function (k) { figures[k].addEventListener('click', function () { stop(); show(k); window.scrollTo(0, 0); }); })(j);
  }
  window.emstreamGallery = {
    nearest: function (w) {
      var best = -1, gap = Infinity;
      for (var f = 0; f < frames.length; f++) {
        if (typeof frames[f].windowIndex !== 'number') continue;
        var g = Math.abs(frames[f].windowIndex - w);
        if (g < gap) { gap = g; best = f; }
      }
      if (best >= 0) { stop(); show(best); }
    }
  };
  show(0);
})();
`;

const TIMELINE_SCRIPT = `
(function () {
  if (!window.Chart || !window.emstreamCharts) {
    document.getElementById('timeline-note').textContent = 'The charts need Chart.js next to this page (assets/): it could not be loaded.';
    return;
  }
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var charts = [
    window.emstreamCharts.timeline(document.getElementById('timeline-likelihood'), 'likelihood'),
    window.emstreamCharts.timeline(document.getElementById('timeline-drift'), 'drift')
  ];
  function draw(cursor) { for (var i = 0; i < charts.length; i++) charts[i].set(data.rows, data.drift, cursor); }
  for (var i = 0; i < charts.length; i++) {
    (function (chart) {
      chart.options.onClick = function (event) {
        if (window.emstreamGallery) window.emstreamGallery.nearest(chart.scales.x.getValueForPixel(event.x));
      };
    })(charts[i].chart);
  }
  window.emstreamTimeline = { charts: charts, cursor: function (w) { draw(typeof w === 'number' ? w : undefined); } };
  draw(undefined);
})();
`;

/**
 * A standalone `index.html` that shows a sequence of figures (e.g. one SVG per EM iteration) as a player and a grid.
 *
 * Steps:
 * 1. Escape the title and the captions; percent-encode each path segment of the file names.
 * 2. Emit a player (image, caption, prev/next buttons, play/pause, slider, ←/→ keys) driven by a few lines of
 *    inline JavaScript that reads the frame list from an inline JSON block.
 * 3. With `options.timeline`: under the player, the log-likelihood and drift-statistics charts (Chart.js, the
 *    same charts as the live dashboard) with the drift alarms marked and the shown frame's window as a cursor.
 * 4. Emit every frame in order in a grid of `<figure>`s (works without JavaScript); clicking one shows it in the player.
 *
 * The page loads nothing but the listed images (and, with a timeline, Chart.js from `options.chartJs`, a
 * relative URL): inline CSS and JS, no external resources.
 *
 * ## Example
 * ```ts
 * import { renderGalleryHtml } from 'emstream';
 * const html = renderGalleryHtml(
 *   [{ file: 'iter-000.svg', caption: 'initialisation' }, { file: 'iter-001.svg', caption: 'EM after iteration 1' }],
 *   'EM on Old Faithful',
 * );
 * ```
 *
 * @param frames - images relative to the page, in display order, with plain-text captions
 * @param title - page title (plain text)
 * @param options - a description and the timeline charts
 * @returns the HTML document as a string
 */
export function renderGalleryHtml(frames: readonly GalleryFrame[], title: string, options: GalleryOptions = {}): string {
  const out: string[] = [];
  out.push('<!doctype html>');
  out.push('<html lang="en">');
  out.push('<head>');
  out.push('<meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${escapeHtml(title)}</title>`);
  out.push(`<style>${STYLE}</style>`);
  out.push('</head>');
  out.push('<body>');
  out.push(`<h1>${escapeHtml(title)}</h1>`);
  if (options.description !== undefined && options.description !== '') out.push(`<p id="description">${escapeHtml(options.description)}</p>`);
  if (frames.length === 0) {
    out.push('<p>No frames.</p>');
    out.push('</body>');
    out.push('</html>');
    return out.join('\n') + '\n';
  }
  const first = frames[0];
  out.push('<div id="player">');
  out.push(`<img id="player-img" src="${escapeHtml(fileUrl(first.file))}" alt="${escapeHtml(first.caption)}">`);
  out.push(`<div id="player-caption">${escapeHtml(first.caption)}</div>`);
  out.push('<div class="controls">');
  out.push('<button type="button" id="player-prev" title="previous (←)">◀ Prev</button>');
  out.push('<button type="button" id="player-play">Play</button>');
  out.push('<button type="button" id="player-next" title="next (→)">Next ▶</button>');
  out.push(`<input type="range" id="player-slider" min="0" max="${frames.length - 1}" value="0" step="1" aria-label="frame">`);
  out.push(`<span id="player-counter">1 / ${frames.length}</span>`);
  out.push('</div>');
  out.push('</div>');
  const timeline = options.timeline;
  if (timeline !== undefined) {
    out.push('<div id="timeline">');
    out.push('<h2>Log-likelihood per window</h2>');
    out.push('<div class="chart"><canvas id="timeline-likelihood" aria-label="log-likelihood per window"></canvas></div>');
    out.push('<h2>Drift statistics, each divided by its alarm threshold</h2>');
    out.push('<div class="chart"><canvas id="timeline-drift" aria-label="drift statistics per window"></canvas></div>');
    out.push(
      '<p id="timeline-note">Predictive: each window under the model of the window before, prior to the update: it falls when the data stops fitting; a value far below the rest is drawn as ▼ at the axis’ edge (its value in the tooltip). Every statistic that can raise an alarm is divided by its threshold: a kind alarms when its line crosses 1 (and once per change: not again until it has been quiet). Vertical lines: alarms, one colour per kind, named at the top; shaded: windows on which the model drifts; grey line: the frame shown above (click a chart to jump to the nearest frame).</p>',
    );
    out.push('</div>');
  }
  out.push('<div class="grid">');
  frames.forEach((f, i) => {
    out.push(
      `<figure data-index="${i}"><img src="${escapeHtml(fileUrl(f.file))}" alt="${escapeHtml(f.caption)}" loading="lazy"><figcaption>${escapeHtml(f.caption)}</figcaption></figure>`,
    );
  });
  out.push('</div>');
  const data = frames.map((f) => (f.windowIndex === undefined ? { url: fileUrl(f.file), caption: f.caption } : { url: fileUrl(f.file), caption: f.caption, windowIndex: f.windowIndex }));
  out.push(`<script type="application/json" id="frames">${scriptJson(data)}</script>`);
  if (timeline !== undefined) {
    out.push(`<script type="application/json" id="timeline-data">${scriptJson({ rows: timeline.rows, drift: timeline.drift })}</script>`);
    out.push(`<script src="${escapeHtml(options.chartJs ?? `assets/${CHART_JS_ASSET}`)}"></script>`);
    out.push(`<script>${CHARTS_SCRIPT}</script>`);
    out.push(`<script>${TIMELINE_SCRIPT}</script>`);
  }
  out.push(`<script>${SCRIPT}</script>`);
  out.push('</body>');
  out.push('</html>');
  return out.join('\n') + '\n';
}
