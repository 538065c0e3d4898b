/** One frame of a gallery: an image file relative to the HTML page, and its caption. */
export interface GalleryFrame {
  /** Path of the image relative to the page, `/`-separated; each segment is percent-encoded into the URL. */
  readonly file: string;
  /** Text shown under the image (plain text, escaped). */
  readonly caption: string;
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
  show(0);
})();
`;

/**
 * A standalone `index.html` that shows a sequence of figures (e.g. one SVG per EM iteration) as a player and a grid.
 *
 * Steps:
 * 1. Escape the title and the captions; percent-encode each path segment of the file names.
 * 2. Emit a player (image, caption, prev/next buttons, play/pause, slider, ←/→ keys) driven by a few lines of
 *    inline JavaScript that reads the frame list from an inline JSON block.
 * 3. Emit every frame in order in a grid of `<figure>`s (works without JavaScript); clicking one shows it in the player.
 *
 * The page loads nothing but the listed images: inline CSS and JS, no external resources.
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
 * @returns the HTML document as a string
 */
export function renderGalleryHtml(frames: readonly GalleryFrame[], title: string): string {
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
  out.push('<div class="grid">');
  frames.forEach((f, i) => {
    out.push(
      `<figure data-index="${i}"><img src="${escapeHtml(fileUrl(f.file))}" alt="${escapeHtml(f.caption)}" loading="lazy"><figcaption>${escapeHtml(f.caption)}</figcaption></figure>`,
    );
  });
  out.push('</div>');
  const data = frames.map((f) => ({ url: fileUrl(f.file), caption: f.caption }));
  out.push(`<script type="application/json" id="frames">${scriptJson(data)}</script>`);
  out.push(`<script>${SCRIPT}</script>`);
  out.push('</body>');
  out.push('</html>');
  return out.join('\n') + '\n';
}
