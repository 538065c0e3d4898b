import { FigureError } from './errors.js';
import { covarianceSize, type CovarianceType, type GmmParams } from '../gmm/types.js';

/** An axis-aligned rectangle in data coordinates. */
export interface Bounds {
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
}

/** Input of {@link renderMixtureSvg}. */
export interface MixtureSvgInput {
  /** n×2 row-major points. */
  readonly points: Float64Array;
  /** Number of points to draw (the first `n` rows of `points`). */
  readonly n: number;
  /** n component labels (colour index), or `null` to draw every point in grey. Negative labels are grey. */
  readonly labels: Int32Array | null;
  /** The mixture to draw; `d` must be 2, any covariance type. */
  readonly params: GmmParams;
  /** First line of text above the plot, e.g. `"EM after iteration 3"`. */
  readonly title?: string;
  /** Second, smaller line of text, e.g. `"log-likelihood −1.23 per point"`. */
  readonly subtitle?: string;
  /** Width of the whole figure in pixels (default 640). */
  readonly width?: number;
  /** Height of the whole figure in pixels (default 480). */
  readonly height?: number;
  /** Axes limits in data coordinates; pass the same bounds to every frame of an animation. Default: {@link computeBounds} of the points. */
  readonly bounds?: Bounds;
  /** Title of the horizontal axis, e.g. `"x₁"` (default none). */
  readonly xLabel?: string;
  /** Title of the vertical axis, e.g. `"x₂"` (default none). */
  readonly yLabel?: string;
}

/**
 * Where the plot area sits in the figure and how data coordinates map to pixels.
 *
 * `px = left + (x − minX)·sx`, `py = top + (maxY − y)·sy` (the y axis points up in data space, down in SVG).
 */
export interface PlotFrame {
  readonly left: number;
  readonly top: number;
  readonly plotWidth: number;
  readonly plotHeight: number;
  /** Pixels per data unit along x. */
  readonly sx: number;
  /** Pixels per data unit along y. */
  readonly sy: number;
  readonly bounds: Bounds;
}

/** A symmetric 2×2 matrix [[a, b], [b, c]]. */
export interface Sym2 {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/** Eigen-decomposition of a symmetric 2×2 matrix: `l1 ≥ l2`, `angle` (radians) of the eigenvector of `l1` from the +x axis, in (−π/2, π/2]. */
export interface Eigen2 {
  readonly l1: number;
  readonly l2: number;
  readonly angle: number;
}

/**
 * Okabe–Ito palette (colour-blind friendly), reordered so that the first colours are the most distinct on white.
 * Component k uses `PALETTE[k % PALETTE.length]`.
 */
export const PALETTE: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

/** Colour of points without a label (`labels === null` or a negative label). */
export const UNLABELLED_COLOUR = '#999999';

const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 480;
const MARGIN_LEFT = 56;
const MARGIN_BOTTOM = 40;
const MARGIN_RIGHT = 140;
const MARGIN_TOP = 14;
const TITLE_LINE = 24;
const SUBTITLE_LINE = 18;
const POINT_RADIUS = 2.5;
const CROSS_HALF = 6;
const CLIP_ID = 'emstream-plot-clip';
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

/** Colour used for component or label `k` (grey for negative labels). */
export function colourFor(k: number): string {
  return k < 0 ? UNLABELLED_COLOUR : PALETTE[k % PALETTE.length];
}

/**
 * Escapes text for XML character data and attribute values; drops characters XML 1.0 forbids.
 *
 * @param text - any string
 * @returns the string with `& < > " '` replaced by entities and C0 control characters (except tab, LF, CR) removed
 */
export function escapeXml(text: string): string {
  let kept = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const allowed = code >= 0x20 ? code !== 0xfffe && code !== 0xffff : code === 0x09 || code === 0x0a || code === 0x0d;
    if (allowed) kept += ch;
  }
  return kept.replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Axes limits that contain all points, with a margin.
 *
 * Steps:
 * 1. Take the minimum and maximum of each coordinate over the first `n` rows.
 * 2. Widen each side by `padding` × the range of that coordinate.
 * 3. A coordinate with zero range (one point, or identical values) gets ±0.5 around its value; no points gives [−1, 1]².
 *
 * ## Example
 * ```ts
 * import { computeBounds } from 'emstream';
 * const b = computeBounds(new Float64Array([0, 0, 10, 2]), 2); // { minX: -0.5, maxX: 10.5, minY: -0.1, maxY: 2.1 }
 * ```
 *
 * @param points - n×2 row-major points
 * @param n - number of rows to consider
 * @param padding - fraction of the range added on each side (default 0.05)
 * @returns finite bounds with `maxX > minX` and `maxY > minY`
 */
export function computeBounds(points: Float64Array, n: number, padding = 0.05): Bounds {
  checkPoints(points, n, 'computeBounds');
  if (!Number.isFinite(padding) || padding < 0) {
    throw new FigureError(`computeBounds: padding must be a finite number ≥ 0, got ${padding}`, { figure: 'computeBounds', field: 'padding' });
  }
  if (n === 0) return { minX: -1, maxX: 1, minY: -1, maxY: 1 };
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i];
    const y = points[2 * i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const [x0, x1] = widen(minX, maxX, padding);
  const [y0, y1] = widen(minY, maxY, padding);
  return { minX: x0, maxX: x1, minY: y0, maxY: y1 };
}

function widen(lo: number, hi: number, padding: number): [number, number] {
  const range = hi - lo;
  if (range === 0) return [lo - 0.5, hi + 0.5];
  return [lo - padding * range, hi + padding * range];
}

/**
 * The plot area of a figure of the given size, and the data → pixel scale for the given bounds.
 *
 * Layout: y tick labels on the left, x tick labels below, title and subtitle above, legend on the right.
 *
 * @param bounds - axes limits in data coordinates
 * @param width - figure width in pixels
 * @param height - figure height in pixels
 * @param lines - which text lines sit above the plot (each one moves the plot down)
 * @returns the plot rectangle and the scales `sx`, `sy` in pixels per data unit
 */
export function plotFrame(bounds: Bounds, width: number, height: number, lines: { title: boolean; subtitle: boolean }): PlotFrame {
  checkBounds(bounds, 'renderMixtureSvg');
  const top = MARGIN_TOP + (lines.title ? TITLE_LINE : 0) + (lines.subtitle ? SUBTITLE_LINE : 0) + 6;
  const plotWidth = width - MARGIN_LEFT - MARGIN_RIGHT;
  const plotHeight = height - top - MARGIN_BOTTOM;
  if (plotWidth < 20 || plotHeight < 20) {
    throw new FigureError(`renderMixtureSvg: a ${width}×${height} figure leaves no room for the plot: use width ≥ ${MARGIN_LEFT + MARGIN_RIGHT + 20} and height ≥ ${top + MARGIN_BOTTOM + 20}`, {
      figure: 'renderMixtureSvg',
      field: plotWidth < 20 ? 'width' : 'height',
    });
  }
  return {
    left: MARGIN_LEFT,
    top,
    plotWidth,
    plotHeight,
    sx: plotWidth / (bounds.maxX - bounds.minX),
    sy: plotHeight / (bounds.maxY - bounds.minY),
    bounds,
  };
}

/**
 * Closed-form eigen-decomposition of a symmetric 2×2 matrix [[a, b], [b, c]].
 *
 * Steps:
 * 1. m = (a + c)/2, r = √(((a − c)/2)² + b²); λ₁ = m + r, λ₂ = m − r.
 * 2. The eigenvector of λ₁ makes the angle θ = ½·atan2(2b, a − c) with the +x axis.
 *
 * @param s - the matrix
 * @returns `l1 ≥ l2` and the angle of the first eigenvector in radians, in (−π/2, π/2]
 */
export function eigenSym2(s: Sym2): Eigen2 {
  const m = (s.a + s.c) / 2;
  const r = Math.hypot((s.a - s.c) / 2, s.b);
  return { l1: m + r, l2: m - r, angle: 0.5 * Math.atan2(2 * s.b, s.a - s.c) };
}

/**
 * The 2×2 covariance of component k, read from the layout of each covariance type (D = 2):
 * full K×2×2 (symmetrised), diag K×2, spherical K, tied 2×2.
 */
const COVARIANCE_2X2: Record<CovarianceType, (cov: Float64Array, k: number) => Sym2> = {
  full: (cov, k) => ({ a: cov[4 * k], b: (cov[4 * k + 1] + cov[4 * k + 2]) / 2, c: cov[4 * k + 3] }),
  diag: (cov, k) => ({ a: cov[2 * k], b: 0, c: cov[2 * k + 1] }),
  spherical: (cov, k) => ({ a: cov[k], b: 0, c: cov[k] }),
  tied: (cov) => ({ a: cov[0], b: (cov[1] + cov[2]) / 2, c: cov[3] }),
};

/**
 * The 2×2 covariance matrix of component `k` of a two-dimensional mixture.
 *
 * @param params - mixture with `d === 2`
 * @param k - component index in [0, K)
 * @returns [[a, b], [b, c]] as `{ a, b, c }`
 */
export function componentCovariance2(params: GmmParams, k: number): Sym2 {
  return COVARIANCE_2X2[params.covarianceType](params.covariances, k);
}

/**
 * An ellipse in pixel coordinates: centre, semi-axes and the SVG rotation in degrees (clockwise on screen).
 */
export interface PixelEllipse {
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
  readonly rotation: number;
}

/**
 * The s-σ ellipse of a Gaussian, mapped to pixels.
 *
 * Steps:
 * 1. Map the covariance to pixel space: Σ_px = A Σ Aᵀ with A = diag(sx, −sy) (the y axis flips), i.e.
 *    [[sx²a, −sx·sy·b], [−sx·sy·b, sy²c]]. With sx = sy this only negates the angle.
 * 2. Eigen-decompose Σ_px in closed form ({@link eigenSym2}).
 * 3. rx = s·√λ₁ along the first eigenvector, ry = s·√λ₂, rotation = its angle in degrees.
 *
 * @param mean - centre in data coordinates, [x, y]
 * @param cov - covariance in data units
 * @param s - number of standard deviations (1 or 2 in the figures)
 * @param frame - data → pixel mapping from {@link plotFrame}
 * @returns the ellipse in pixels
 */
export function sigmaEllipse(mean: readonly [number, number], cov: Sym2, s: number, frame: PlotFrame): PixelEllipse {
  const { sx, sy } = frame;
  const e = eigenSym2({ a: sx * sx * cov.a, b: -sx * sy * cov.b, c: sy * sy * cov.c });
  return {
    cx: toPx(frame, mean[0]),
    cy: toPy(frame, mean[1]),
    rx: s * Math.sqrt(Math.max(e.l1, 0)),
    ry: s * Math.sqrt(Math.max(e.l2, 0)),
    rotation: (e.angle * 180) / Math.PI,
  };
}

function toPx(frame: PlotFrame, x: number): number {
  return frame.left + (x - frame.bounds.minX) * frame.sx;
}

function toPy(frame: PlotFrame, y: number): number {
  return frame.top + (frame.bounds.maxY - y) * frame.sy;
}

/**
 * Renders points, component means and 1σ/2σ ellipses of a two-dimensional Gaussian mixture as a standalone SVG,
 * like the lecture figures "EM after iteration n".
 *
 * Steps:
 * 1. Validate: `d === 2`, array lengths match K and the covariance type, every number finite, covariances
 *    positive semi-definite, labels one per point.
 * 2. Lay out the figure ({@link plotFrame}) for the given or computed bounds; pick ~5 "nice" ticks per axis.
 * 3. Draw the points as circles coloured by label (palette index `label % 8`, grey when unlabelled),
 *    clipped to the plot area.
 * 4. For each component, draw the 1σ (solid) and 2σ (dashed) ellipses from the closed-form eigen-decomposition
 *    of its 2×2 covariance ({@link sigmaEllipse}), then its mean as a cross.
 * 5. Draw the frame, title, subtitle, the axis titles when given, and a legend with each component's weight.
 *
 * Coordinates are printed with at most 2 decimals; the output is a pure function of the input.
 *
 * ## Example
 * ```ts
 * import { renderMixtureSvg, computeBounds } from 'emstream';
 * const points = new Float64Array([0, 0, 1, 1, 5, 5, 6, 5]);
 * const svg = renderMixtureSvg({
 *   points, n: 4, labels: new Int32Array([0, 0, 1, 1]),
 *   params: { k: 2, d: 2, covarianceType: 'spherical', weights: new Float64Array([0.5, 0.5]),
 *             means: new Float64Array([0.5, 0.5, 5.5, 5]), covariances: new Float64Array([0.3, 0.2]) },
 *   title: 'EM after iteration 1', bounds: computeBounds(points, 4),
 * });
 * ```
 *
 * @param input - points (n×2 row-major), labels (n), mixture parameters and figure options
 * @returns the SVG document as a string, starting with an XML declaration
 * @throws FigureError when `d !== 2`, a number is not finite, a covariance is not positive semi-definite, lengths do not
 *   match, or the figure is too small (its context names the input: `field`, and `index` for a point or component)
 */
export function renderMixtureSvg(input: MixtureSvgInput): string {
  const { points, n, labels, params } = input;
  const width = input.width ?? DEFAULT_WIDTH;
  const height = input.height ?? DEFAULT_HEIGHT;
  if (!Number.isFinite(width) || !Number.isFinite(height) || width <= 0 || height <= 0) {
    throw new FigureError(`renderMixtureSvg: width and height must be finite and positive, got ${width}×${height}`, { figure: 'renderMixtureSvg', field: Number.isFinite(width) && width > 0 ? 'height' : 'width' });
  }
  checkPoints(points, n, 'renderMixtureSvg');
  if (labels !== null && labels.length < n) {
    throw new FigureError(`renderMixtureSvg: labels has ${labels.length} entries for ${n} points: pass one label per point or null`, { figure: 'renderMixtureSvg', field: 'labels' });
  }
  const covs = checkParams(params);
  const bounds = input.bounds ?? computeBounds(points, n);
  const title = input.title ?? '';
  const subtitle = input.subtitle ?? '';
  const frame = plotFrame(bounds, width, height, { title: title !== '', subtitle: subtitle !== '' });

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="${FONT}" font-size="12">`,
  );
  if (title !== '') out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<defs><clipPath id="${CLIP_ID}"><rect x="${num(frame.left)}" y="${num(frame.top)}" width="${num(frame.plotWidth)}" height="${num(frame.plotHeight)}"/></clipPath></defs>`);
  out.push(`<rect width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`);

  renderText(out, frame, title, subtitle);
  renderAxes(out, frame);
  renderAxisTitles(out, frame, input.xLabel ?? '', input.yLabel ?? '');

  out.push(`<g clip-path="url(#${CLIP_ID})">`);
  out.push('<g class="points" stroke="none" fill-opacity="0.75">');
  for (let i = 0; i < n; i++) {
    const colour = labels === null ? UNLABELLED_COLOUR : colourFor(labels[i]);
    out.push(`<circle cx="${num(toPx(frame, points[2 * i]))}" cy="${num(toPy(frame, points[2 * i + 1]))}" r="${POINT_RADIUS}" fill="${colour}"/>`);
  }
  out.push('</g>');
  out.push('<g class="components" fill="none">');
  for (let k = 0; k < params.k; k++) {
    const mean: [number, number] = [params.means[2 * k], params.means[2 * k + 1]];
    const colour = colourFor(k);
    for (const s of [2, 1]) {
      const e = sigmaEllipse(mean, covs[k], s, frame);
      const dash = s === 1 ? ' stroke-width="2"' : ' stroke-width="1.5" stroke-dasharray="6 4"';
      out.push(
        `<ellipse class="sigma${s}" data-component="${k}" cx="${num(e.cx)}" cy="${num(e.cy)}" rx="${num(e.rx)}" ry="${num(e.ry)}" transform="rotate(${num(e.rotation)} ${num(e.cx)} ${num(e.cy)})" stroke="${colour}"${dash}/>`,
      );
    }
  }
  for (let k = 0; k < params.k; k++) {
    const x = toPx(frame, params.means[2 * k]);
    const y = toPy(frame, params.means[2 * k + 1]);
    const d = cross(x, y, CROSS_HALF);
    out.push(
      `<g class="mean" data-component="${k}"><path d="${d}" stroke="#000000" stroke-width="4.5" stroke-linecap="round"/><path d="${d}" stroke="${colourFor(k)}" stroke-width="2.5" stroke-linecap="round"/></g>`,
    );
  }
  out.push('</g>');
  out.push('</g>');
  out.push(`<rect x="${num(frame.left)}" y="${num(frame.top)}" width="${num(frame.plotWidth)}" height="${num(frame.plotHeight)}" fill="none" stroke="#333333"/>`);

  renderLegend(out, frame, params);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function cross(x: number, y: number, h: number): string {
  return `M${num(x - h)} ${num(y - h)}L${num(x + h)} ${num(y + h)}M${num(x - h)} ${num(y + h)}L${num(x + h)} ${num(y - h)}`;
}

function renderText(out: string[], frame: PlotFrame, title: string, subtitle: string): void {
  const cx = num(frame.left + frame.plotWidth / 2);
  let y = MARGIN_TOP;
  if (title !== '') {
    y += TITLE_LINE;
    out.push(`<text class="title" x="${cx}" y="${num(y - 6)}" text-anchor="middle" font-size="17" font-weight="600" fill="#111111">${escapeXml(title)}</text>`);
  }
  if (subtitle !== '') {
    y += SUBTITLE_LINE;
    out.push(`<text class="subtitle" x="${cx}" y="${num(y - 4)}" text-anchor="middle" font-size="13" fill="#555555">${escapeXml(subtitle)}</text>`);
  }
}

function renderAxes(out: string[], frame: PlotFrame): void {
  const { left, top, plotWidth, plotHeight, bounds } = frame;
  const bottom = top + plotHeight;
  const right = left + plotWidth;
  out.push('<g class="axes" fill="#333333" stroke="none">');
  for (const t of niceTicks(bounds.minX, bounds.maxX)) {
    const x = num(toPx(frame, t.value));
    out.push(`<line x1="${x}" y1="${num(top)}" x2="${x}" y2="${num(bottom)}" stroke="#eeeeee"/>`);
    out.push(`<line x1="${x}" y1="${num(bottom)}" x2="${x}" y2="${num(bottom + 5)}" stroke="#333333"/>`);
    out.push(`<text x="${x}" y="${num(bottom + 18)}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  for (const t of niceTicks(bounds.minY, bounds.maxY)) {
    const y = num(toPy(frame, t.value));
    out.push(`<line x1="${num(left)}" y1="${y}" x2="${num(right)}" y2="${y}" stroke="#eeeeee"/>`);
    out.push(`<line x1="${num(left - 5)}" y1="${y}" x2="${num(left)}" y2="${y}" stroke="#333333"/>`);
    out.push(`<text x="${num(left - 8)}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(t.label)}</text>`);
  }
  out.push('</g>');
}

function renderAxisTitles(out: string[], frame: PlotFrame, xLabel: string, yLabel: string): void {
  if (xLabel !== '') {
    out.push(`<text class="x-label" x="${num(frame.left + frame.plotWidth / 2)}" y="${num(frame.top + frame.plotHeight + 35)}" text-anchor="middle" font-size="13" fill="#222222">${escapeXml(xLabel)}</text>`);
  }
  if (yLabel !== '') {
    const x = num(14);
    const y = num(frame.top + frame.plotHeight / 2);
    out.push(`<text class="y-label" x="${x}" y="${y}" transform="rotate(-90 ${x} ${y})" text-anchor="middle" font-size="13" fill="#222222">${escapeXml(yLabel)}</text>`);
  }
}

function renderLegend(out: string[], frame: PlotFrame, params: GmmParams): void {
  const x = frame.left + frame.plotWidth + 16;
  let y = frame.top + 8;
  const row = 18;
  out.push('<g class="legend" font-size="12" fill="#222222">');
  out.push(`<path d="${cross(x + 9, y, 5)}" stroke="#333333" stroke-width="2" stroke-linecap="round"/>`);
  out.push(`<text x="${num(x + 26)}" y="${num(y)}" dominant-baseline="middle">mean</text>`);
  y += row;
  out.push(`<line x1="${num(x)}" y1="${num(y)}" x2="${num(x + 18)}" y2="${num(y)}" stroke="#333333" stroke-width="2"/>`);
  out.push(`<text x="${num(x + 26)}" y="${num(y)}" dominant-baseline="middle">1σ</text>`);
  y += row;
  out.push(`<line x1="${num(x)}" y1="${num(y)}" x2="${num(x + 18)}" y2="${num(y)}" stroke="#333333" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${num(x + 26)}" y="${num(y)}" dominant-baseline="middle">2σ</text>`);
  y += row * 1.5;
  for (let k = 0; k < params.k; k++) {
    out.push(`<rect class="swatch" data-component="${k}" x="${num(x + 3)}" y="${num(y - 6)}" width="12" height="12" fill="${colourFor(k)}"/>`);
    out.push(`<text class="weight" data-component="${k}" x="${num(x + 26)}" y="${num(y)}" dominant-baseline="middle">k=${k}  π=${params.weights[k].toFixed(2)}</text>`);
    y += row;
  }
  out.push('</g>');
}

/** A tick position and its label. */
interface Tick {
  readonly value: number;
  readonly label: string;
}

/**
 * About five "nice" tick values (multiples of 1, 2 or 5 × 10^e) inside [lo, hi].
 */
function niceTicks(lo: number, hi: number): Tick[] {
  const raw = (hi - lo) / 5;
  const e = Math.floor(Math.log10(raw));
  const f = raw / 10 ** e;
  const m = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  const step = m * 10 ** e;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks: Tick[] = [];
  for (let i = first; i <= last; i++) {
    const value = i * step;
    let label = value.toFixed(Math.min(decimals, 20));
    if (/^-0(\.0*)?$/.test(label)) label = label.slice(1);
    ticks.push({ value, label });
  }
  return ticks;
}

/** Formats a pixel coordinate with at most 2 decimals and no trailing zeros; never prints NaN. */
function num(v: number): string {
  if (!Number.isFinite(v)) {
    throw new FigureError(`renderMixtureSvg: a pixel coordinate came out as ${v}: check the bounds and the parameters`, { figure: 'renderMixtureSvg', field: 'bounds' });
  }
  let s = v.toFixed(2);
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

function checkPoints(points: Float64Array, n: number, figure: string): void {
  if (!Number.isInteger(n) || n < 0) throw new FigureError(`${figure}: n must be a non-negative integer, got ${n}`, { figure, field: 'n' });
  if (points.length < 2 * n) {
    throw new FigureError(`${figure}: points has ${points.length} values, fewer than n×2 = ${2 * n}: pass n×2 row-major two-dimensional points`, { figure, field: 'points' });
  }
  for (let i = 0; i < 2 * n; i++) {
    if (!Number.isFinite(points[i])) {
      const index = Math.floor(i / 2);
      throw new FigureError(`${figure}: point ${index} has a non-finite coordinate (${points[i]}): drop or impute it before plotting`, { figure, field: 'points', index });
    }
  }
}

function checkBounds(b: Bounds, figure: string): void {
  for (const key of ['minX', 'maxX', 'minY', 'maxY'] as const) {
    if (!Number.isFinite(b[key])) throw new FigureError(`${figure}: bounds.${key} must be finite, got ${b[key]}`, { figure, field: `bounds.${key}` });
  }
  if (!(b.maxX > b.minX) || !(b.maxY > b.minY)) {
    throw new FigureError(`${figure}: bounds must satisfy minX < maxX and minY < maxY, got x [${b.minX}, ${b.maxX}], y [${b.minY}, ${b.maxY}]`, { figure, field: 'bounds' });
  }
}

/** Validates a two-dimensional mixture and returns the 2×2 covariance of each component. */
function checkParams(p: GmmParams): Sym2[] {
  const figure = 'renderMixtureSvg';
  if (p.d !== 2) {
    throw new FigureError(`renderMixtureSvg draws two-dimensional mixtures only, got d = ${p.d}: project the data and the model to 2 dimensions first`, { figure, field: 'params.d' });
  }
  if (!Number.isInteger(p.k) || p.k < 1) throw new FigureError(`renderMixtureSvg: k must be a positive integer, got ${p.k}`, { figure, field: 'params.k' });
  if (!(p.covarianceType in COVARIANCE_2X2)) {
    throw new FigureError(`renderMixtureSvg: unknown covariance type '${String(p.covarianceType)}': use full, tied, diag or spherical`, { figure, field: 'params.covarianceType' });
  }
  const expect = covarianceSize(p.covarianceType, p.k, 2);
  if (p.weights.length !== p.k || p.means.length !== 2 * p.k || p.covariances.length !== expect) {
    throw new FigureError(
      `renderMixtureSvg: array lengths do not match k = ${p.k}, d = 2, '${p.covarianceType}': weights ${p.weights.length} (want ${p.k}), means ${p.means.length} (want ${2 * p.k}), covariances ${p.covariances.length} (want ${expect})`,
      { figure, field: p.weights.length !== p.k ? 'params.weights' : p.means.length !== 2 * p.k ? 'params.means' : 'params.covariances' },
    );
  }
  const finite = (name: string, a: Float64Array): void => {
    const i = a.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new FigureError(`renderMixtureSvg: ${name}[${i}] is ${a[i]}: the model has diverged or was not fitted; refit with a larger regCovar`, { figure, field: `params.${name}`, index: i });
  };
  finite('weights', p.weights);
  finite('means', p.means);
  finite('covariances', p.covariances);
  const covs: Sym2[] = [];
  for (let k = 0; k < p.k; k++) {
    const c = COVARIANCE_2X2[p.covarianceType](p.covariances, k);
    const { l2 } = eigenSym2(c);
    const scale = Math.max(Math.abs(c.a), Math.abs(c.c), Number.MIN_VALUE);
    if (c.a < 0 || c.c < 0 || l2 < -1e-9 * scale) {
      throw new FigureError(`renderMixtureSvg: component ${k} has a covariance that is not positive semi-definite ([[${c.a}, ${c.b}], [${c.b}, ${c.c}]]): use a larger regCovar`, {
        figure,
        field: 'params.covariances',
        index: k,
      });
    }
    covs.push(c);
  }
  return covs;
}
