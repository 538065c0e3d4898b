import { EmstreamError } from '../../src/errors.js';
import { FigureError } from '../../src/viz/errors.js';
import { describe, expect, it } from 'vitest';
import type { CovarianceType, GmmParams } from '../../src/gmm/types.js';
import { renderGalleryHtml } from '../../src/viz/gallery.js';
import {
  PALETTE,
  UNLABELLED_COLOUR,
  computeBounds,
  eigenSym2,
  plotFrame,
  renderMixtureSvg,
  type Bounds,
  type MixtureSvgInput,
} from '../../src/viz/svg.js';

/** An element found by {@link parseXml}: its name and attributes (entities decoded). */
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Decoded text directly inside the element (concatenated). */
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function decodeEntities(s: string, where: number): string {
  return s.replace(/&([^;]*);/g, (_m, ref: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ref in named) return named[ref];
    if (/^#x[0-9a-fA-F]+$/.test(ref)) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (/^#[0-9]+$/.test(ref)) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    throw new Error(`unknown entity &${ref}; near ${where}`);
  });
}

/**
 * A tiny, strict XML well-formedness checker (enough for our SVG): prolog, comments, elements with quoted
 * attributes, self-closing tags, character data with only the five predefined entities or character references.
 * Throws on the first error; returns every element in document order.
 */
function parseXml(src: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let i = 0;
  let roots = 0;
  if (src.startsWith('<?xml')) {
    const end = src.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    if (/&(?![a-zA-Z]+;|#[0-9]+;|#x[0-9a-fA-F]+;)/.test(text)) throw new Error(`bare & in text near ${i}`);
    if (text.includes('>')) throw new Error(`bare > in text near ${i}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root element near ${i}`);
    if (stack.length > 0) stack[stack.length - 1].text += decodeEntities(text, i);
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2));
      if (!m) throw new Error(`bad end tag near ${i}`);
      const close = src.indexOf('>', i);
      if (src.slice(i + 2 + m[0].length, close).trim() !== '') throw new Error(`junk in end tag near ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> closes <${open?.name ?? 'nothing'}> near ${i}`);
      i = close + 1;
      continue;
    }
    const m = NAME.exec(src.slice(i + 1));
    if (!m) throw new Error(`bad start tag near ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, text: '' };
    if (stack.length === 0) roots++;
    let j = i + 1 + m[0].length;
    for (;;) {
      const ws = /^\s*/.exec(src.slice(j))![0].length;
      j += ws;
      if (src.startsWith('/>', j)) {
        j += 2;
        break;
      }
      if (src[j] === '>') {
        j += 1;
        stack.push(el);
        break;
      }
      if (ws === 0) throw new Error(`missing space before attribute near ${j}`);
      const a = /^([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(src.slice(j));
      if (!a) throw new Error(`bad attribute near ${j}: ${src.slice(j, j + 30)}`);
      if (a[1] in el.attrs) throw new Error(`duplicate attribute ${a[1]} near ${j}`);
      const raw = a[3] ?? a[4];
      if (/&(?![a-zA-Z]+;|#[0-9]+;|#x[0-9a-fA-F]+;)/.test(raw)) throw new Error(`bare & in attribute near ${j}`);
      el.attrs[a[1]] = decodeEntities(raw, j);
      j += a[0].length;
    }
    elements.push(el);
    i = j;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (roots !== 1) throw new Error(`expected exactly one root element, found ${roots}`);
  return elements;
}

function params(covarianceType: CovarianceType, k: number, means: number[], covariances: number[], weights?: number[]): GmmParams {
  return {
    k,
    d: 2,
    covarianceType,
    weights: new Float64Array(weights ?? Array.from({ length: k }, () => 1 / k)),
    means: new Float64Array(means),
    covariances: new Float64Array(covariances),
  };
}

/** Bounds whose data → pixel scale is the same on both axes for a figure of the given size (no subtitle). */
function squareBounds(width: number, height: number, title: boolean): Bounds {
  const f = plotFrame({ minX: 0, maxX: 1, minY: 0, maxY: 1 }, width, height, { title, subtitle: false });
  const unitsPerPixel = 10 / f.plotWidth; // x spans [-5, 5]
  const halfY = (f.plotHeight * unitsPerPixel) / 2;
  return { minX: -5, maxX: 5, minY: -halfY, maxY: halfY };
}

function ellipses(svg: string, cls?: string): XmlElement[] {
  return parseXml(svg).filter((e) => e.name === 'ellipse' && (cls === undefined || e.attrs.class === cls));
}

function rotation(e: XmlElement): number {
  const m = /^rotate\((-?[\d.]+) (-?[\d.]+) (-?[\d.]+)\)$/.exec(e.attrs.transform);
  expect(m, `transform ${e.attrs.transform}`).not.toBeNull();
  expect(Number(m![2])).toBe(Number(e.attrs.cx));
  expect(Number(m![3])).toBe(Number(e.attrs.cy));
  return Number(m![1]);
}

/** Pseudo-random but fixed points around two centres. */
function twoBlobs(n: number): { points: Float64Array; labels: Int32Array } {
  const points = new Float64Array(2 * n);
  const labels = new Int32Array(n);
  let s = 12345;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels[i] = c;
    points[2 * i] = (c === 0 ? -2 : 2) + rnd() * 2;
    points[2 * i + 1] = (c === 0 ? -1 : 1) + rnd() * 2;
  }
  return { points, labels };
}

function baseInput(overrides: Partial<MixtureSvgInput> = {}): MixtureSvgInput {
  const { points, labels } = twoBlobs(40);
  return {
    points,
    n: 40,
    labels,
    params: params('full', 2, [-2, -1, 2, 1], [1, 0.3, 0.3, 0.5, 0.4, 0, 0, 0.4], [0.4, 0.6]),
    title: 'EM after iteration 3',
    subtitle: 'mean log-likelihood -1.23',
    ...overrides,
  };
}

describe('parseXml (the test helper)', () => {
  it('accepts well-formed XML and rejects common mistakes', () => {
    expect(parseXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b/><c>t &lt; u</c></a>\n')).toHaveLength(3);
    for (const bad of ['<a><b></a></b>', '<a>', '<a x="1" x="2"/>', '<a x=1/>', '<a>&</a>', '<a>&nbsp;</a>', '<a/><b/>', '<a x="<"/>', '<a y="1"z="2"/>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});

describe('renderMixtureSvg', () => {
  it('produces well-formed XML with an svg root', () => {
    const svg = renderMixtureSvg(baseInput());
    const els = parseXml(svg);
    expect(els[0].name).toBe('svg');
    expect(els[0].attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('draws exactly n point circles and 2·K ellipses (1σ solid, 2σ dashed)', () => {
    const { points, labels } = twoBlobs(37);
    const p = params('diag', 3, [-2, -1, 2, 1, 0, 0], [1, 2, 0.5, 0.5, 3, 1]);
    const svg = renderMixtureSvg({ points, n: 37, labels, params: p });
    const els = parseXml(svg);
    expect(els.filter((e) => e.name === 'circle')).toHaveLength(37);
    expect(els.filter((e) => e.name === 'ellipse')).toHaveLength(6);
    expect(ellipses(svg, 'sigma1').every((e) => e.attrs['stroke-dasharray'] === undefined)).toBe(true);
    expect(ellipses(svg, 'sigma2').every((e) => e.attrs['stroke-dasharray'] !== undefined)).toBe(true);
    expect(els.filter((e) => e.name === 'g' && e.attrs.class === 'mean')).toHaveLength(3);
  });

  it('matches the closed form for an axis-aligned covariance [[4,0],[0,1]]', () => {
    const width = 640;
    const height = 480;
    const bounds = squareBounds(width, height, false);
    const frame = plotFrame(bounds, width, height, { title: false, subtitle: false });
    expect(frame.sx).toBeCloseTo(frame.sy, 9);
    const svg = renderMixtureSvg({
      points: new Float64Array(0),
      n: 0,
      labels: null,
      params: params('full', 1, [0, 0], [4, 0, 0, 1]),
      width,
      height,
      bounds,
    });
    const s = frame.sx;
    const [one] = ellipses(svg, 'sigma1');
    const [two] = ellipses(svg, 'sigma2');
    expect(Number(one.attrs.rx)).toBeCloseTo(2 * s, 1);
    expect(Number(one.attrs.ry)).toBeCloseTo(1 * s, 1);
    expect(Number(two.attrs.rx)).toBeCloseTo(4 * s, 1);
    expect(Number(two.attrs.ry)).toBeCloseTo(2 * s, 1);
    expect(rotation(one)).toBeCloseTo(0, 6);
    // The mean (0, 0) sits in the middle of the plot area.
    expect(Number(one.attrs.cx)).toBeCloseTo(frame.left + frame.plotWidth / 2, 1);
    expect(Number(one.attrs.cy)).toBeCloseTo(frame.top + frame.plotHeight / 2, 1);
  });

  it('uses separate x and y scales when the axes are not equal', () => {
    const bounds = { minX: 0, maxX: 10, minY: 0, maxY: 100 };
    const frame = plotFrame(bounds, 640, 480, { title: false, subtitle: false });
    const svg = renderMixtureSvg({
      points: new Float64Array(0),
      n: 0,
      labels: null,
      params: params('diag', 1, [5, 50], [4, 100]),
      bounds,
    });
    const [one] = ellipses(svg, 'sigma1');
    const radii = [Number(one.attrs.rx), Number(one.attrs.ry)].sort((a, b) => b - a);
    const expected = [2 * frame.sx, 10 * frame.sy].sort((a, b) => b - a);
    expect(radii[0]).toBeCloseTo(expected[0], 1);
    expect(radii[1]).toBeCloseTo(expected[1], 1);
    expect(Math.abs(rotation(one)) % 90).toBeCloseTo(0, 6);
  });

  it('rotates by the eigenvector: cov [[2.5,1.5],[1.5,2.5]] has λ = 4 along 45° and λ = 1 along −45°', () => {
    expect(eigenSym2({ a: 2.5, b: 1.5, c: 2.5 })).toEqual({ l1: 4, l2: 1, angle: Math.PI / 4 });
    const bounds = squareBounds(640, 480, true);
    const frame = plotFrame(bounds, 640, 480, { title: true, subtitle: false });
    const svg = renderMixtureSvg({
      points: new Float64Array(0),
      n: 0,
      labels: null,
      params: params('full', 1, [0, 0], [2.5, 1.5, 1.5, 2.5]),
      bounds,
      title: 'rotated',
    });
    const [one] = ellipses(svg, 'sigma1');
    expect(Number(one.attrs.rx)).toBeCloseTo(2 * frame.sx, 1);
    expect(Number(one.attrs.ry)).toBeCloseTo(1 * frame.sx, 1);
    // Data y points up, SVG y points down: +45° in data space is −45° in SVG's rotate().
    expect(rotation(one)).toBeCloseTo(-45, 2);

    const neg = renderMixtureSvg({
      points: new Float64Array(0),
      n: 0,
      labels: null,
      params: params('full', 1, [0, 0], [2.5, -1.5, -1.5, 2.5]),
      bounds,
      title: 'rotated',
    });
    expect(rotation(ellipses(neg, 'sigma1')[0])).toBeCloseTo(45, 2);
  });

  it('reads every covariance layout the same way', () => {
    const bounds = { minX: -5, maxX: 5, minY: -5, maxY: 5 };
    const render = (p: GmmParams): XmlElement[] =>
      ellipses(renderMixtureSvg({ points: new Float64Array(0), n: 0, labels: null, params: p, bounds }));
    const attrs = (els: XmlElement[]): Record<string, string>[] => els.map((e) => e.attrs);
    const fullDiag = render(params('full', 2, [0, 0, 1, 1], [2, 0, 0, 3, 1, 0, 0, 0.5]));
    const diag = render(params('diag', 2, [0, 0, 1, 1], [2, 3, 1, 0.5]));
    expect(attrs(diag)).toEqual(attrs(fullDiag));
    const fullSph = render(params('full', 2, [0, 0, 1, 1], [2, 0, 0, 2, 0.7, 0, 0, 0.7]));
    const sph = render(params('spherical', 2, [0, 0, 1, 1], [2, 0.7]));
    expect(attrs(sph)).toEqual(attrs(fullSph));
    const fullTied = render(params('full', 2, [0, 0, 1, 1], [2, 0.5, 0.5, 1, 2, 0.5, 0.5, 1]));
    const tied = render(params('tied', 2, [0, 0, 1, 1], [2, 0.5, 0.5, 1]));
    expect(attrs(tied)).toEqual(attrs(fullTied));
  });

  it('colours points by label, cycling the palette, grey when unlabelled', () => {
    const n = 12;
    const points = new Float64Array(2 * n).map((_, i) => i % 7);
    const labels = new Int32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 1]);
    const p = params('spherical', 10, Array.from({ length: 20 }, (_, i) => i % 5), Array.from({ length: 10 }, () => 1));
    const svg = renderMixtureSvg({ points, n, labels, params: p });
    const fills = parseXml(svg)
      .filter((e) => e.name === 'circle')
      .map((e) => e.attrs.fill);
    expect(fills).toEqual([...labels].map((l) => (l < 0 ? UNLABELLED_COLOUR : PALETTE[l % PALETTE.length])));
    expect(fills[8]).toBe(PALETTE[0]);
    // Ellipses use the component's colour.
    for (const e of ellipses(svg)) expect(e.attrs.stroke).toBe(PALETTE[Number(e.attrs['data-component']) % PALETTE.length]);

    const grey = renderMixtureSvg({ points, n, labels: null, params: p });
    expect(new Set(parseXml(grey).filter((e) => e.name === 'circle').map((e) => e.attrs.fill))).toEqual(new Set([UNLABELLED_COLOUR]));
  });

  it('keeps points in order at their pixel positions', () => {
    const bounds = { minX: 0, maxX: 4, minY: 0, maxY: 2 };
    const frame = plotFrame(bounds, 640, 480, { title: false, subtitle: false });
    const points = new Float64Array([0, 0, 4, 2, 1, 0.5]);
    const svg = renderMixtureSvg({ points, n: 3, labels: null, params: params('spherical', 1, [2, 1], [1]), bounds });
    const circles = parseXml(svg).filter((e) => e.name === 'circle');
    const xy = circles.map((c) => [Number(c.attrs.cx), Number(c.attrs.cy)]);
    expect(xy[0][0]).toBeCloseTo(frame.left, 2);
    expect(xy[0][1]).toBeCloseTo(frame.top + frame.plotHeight, 2);
    expect(xy[1][0]).toBeCloseTo(frame.left + frame.plotWidth, 2);
    expect(xy[1][1]).toBeCloseTo(frame.top, 2);
    expect(xy[2][0]).toBeCloseTo(frame.left + frame.plotWidth / 4, 2);
  });

  it('escapes title and subtitle', () => {
    const title = `a < b & "c" > 'd' </svg><script>x</script>`;
    const svg = renderMixtureSvg(baseInput({ title, subtitle: 'Q & H\u0001' }));
    expect(svg).not.toContain('<script');
    const els = parseXml(svg);
    expect(els.find((e) => e.attrs.class === 'title')!.text).toBe(title);
    expect(els.find((e) => e.name === 'title')!.text).toBe(title);
    expect(els.find((e) => e.attrs.class === 'subtitle')!.text).toBe('Q & H');
  });

  it('shows each component weight in the legend', () => {
    const svg = renderMixtureSvg(baseInput());
    const weights = parseXml(svg)
      .filter((e) => e.attrs.class === 'weight')
      .map((e) => e.text);
    expect(weights).toEqual(['k=0  π=0.40', 'k=1  π=0.60']);
  });

  it('has tick labels on both axes', () => {
    const svg = renderMixtureSvg(baseInput({ bounds: { minX: -3, maxX: 3, minY: -0.5, maxY: 0.5 } }));
    const texts = parseXml(svg)
      .filter((e) => e.name === 'text' && e.attrs.class === undefined)
      .map((e) => e.text);
    expect(texts).toEqual(expect.arrayContaining(['-2', '0', '2', '-0.4', '0.4']));
    expect(texts).not.toContain('-0');
  });

  it('is deterministic and prints at most 2 decimals', () => {
    const a = renderMixtureSvg(baseInput());
    const b = renderMixtureSvg(baseInput());
    expect(a).toBe(b);
    expect(a).not.toMatch(/\d\.\d{3}/);
  });

  it('uses the given bounds so that frames share axes', () => {
    const bounds = { minX: -10, maxX: 10, minY: -10, maxY: 10 };
    const first = renderMixtureSvg(baseInput({ bounds, title: 'EM after iteration 1' }));
    const second = renderMixtureSvg(baseInput({ bounds, title: 'EM after iteration 2', n: 10 }));
    const axes = (svg: string): string => svg.slice(svg.indexOf('<g class="axes"'), svg.indexOf('</g>', svg.indexOf('<g class="axes"')));
    expect(axes(first)).toBe(axes(second));
  });

  it('throws on d ≠ 2, non-finite parameters or points, and bad lengths', () => {
    const ok = baseInput();
    const three: GmmParams = { ...ok.params, d: 3, means: new Float64Array(6), covariances: new Float64Array(18) };
    expect(() => renderMixtureSvg({ ...ok, params: three })).toThrow(/two-dimensional.*d = 3/);
    for (const field of ['weights', 'means', 'covariances'] as const) {
      const bad = new Float64Array(ok.params[field]);
      bad[1] = NaN;
      expect(() => renderMixtureSvg({ ...ok, params: { ...ok.params, [field]: bad } })).toThrow(new RegExp(`${field}\\[1\\] is NaN`));
    }
    const inf = new Float64Array(ok.params.means);
    inf[0] = Infinity;
    expect(() => renderMixtureSvg({ ...ok, params: { ...ok.params, means: inf } })).toThrow(/Infinity/);
    const pts = new Float64Array(ok.points);
    pts[5] = NaN;
    expect(() => renderMixtureSvg({ ...ok, points: pts })).toThrow(/point 2/);
    expect(() => renderMixtureSvg({ ...ok, params: { ...ok.params, covariances: new Float64Array(4) } })).toThrow(/lengths/);
    expect(() => renderMixtureSvg({ ...ok, params: params('full', 1, [0, 0], [1, 2, 2, 1]) })).toThrow(/positive semi-definite/);
    expect(() => renderMixtureSvg({ ...ok, labels: new Int32Array(3) })).toThrow(/labels/);
    expect(() => renderMixtureSvg({ ...ok, bounds: { minX: 1, maxX: 1, minY: 0, maxY: 1 } })).toThrow(/bounds/);
    expect(() => renderMixtureSvg({ ...ok, bounds: { minX: 0, maxX: NaN, minY: 0, maxY: 1 } })).toThrow(/bounds.maxX/);
    expect(() => renderMixtureSvg({ ...ok, width: 100 })).toThrow(/no room/);
  });

  it('throws FigureErrors (EmstreamErrors) whose context names the input', () => {
    const ok = baseInput();
    const caught = (f: () => unknown): FigureError => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(FigureError);
        expect(err).toBeInstanceOf(EmstreamError);
        expect((err as FigureError).name).toBe('FigureError');
        expect((err as FigureError).retriable).toBe(false);
        return err as FigureError;
      }
      throw new Error('did not throw');
    };
    const pts = new Float64Array(ok.points);
    pts[5] = NaN;
    expect(caught(() => renderMixtureSvg({ ...ok, points: pts })).context).toEqual({ figure: 'renderMixtureSvg', field: 'points', index: 2 });
    const means = new Float64Array(ok.params.means);
    means[1] = NaN;
    expect(caught(() => renderMixtureSvg({ ...ok, params: { ...ok.params, means } })).context).toEqual({ figure: 'renderMixtureSvg', field: 'params.means', index: 1 });
    expect(caught(() => renderMixtureSvg({ ...ok, params: params('full', 1, [0, 0], [1, 2, 2, 1]) })).context).toEqual({ figure: 'renderMixtureSvg', field: 'params.covariances', index: 0 });
    expect(caught(() => renderMixtureSvg({ ...ok, bounds: { minX: 0, maxX: NaN, minY: 0, maxY: 1 } })).context).toEqual({ figure: 'renderMixtureSvg', field: 'bounds.maxX' });
    expect(caught(() => renderMixtureSvg({ ...ok, width: 100 })).context).toEqual({ figure: 'renderMixtureSvg', field: 'width' });
    expect(caught(() => renderMixtureSvg({ ...ok, height: -1 })).context).toEqual({ figure: 'renderMixtureSvg', field: 'height' });
    expect(caught(() => computeBounds(new Float64Array([0, 0]), 1, -1)).context).toEqual({ figure: 'computeBounds', field: 'padding' });
    expect(caught(() => computeBounds(new Float64Array([0, 0]), 2)).message).toMatch(/^computeBounds: points has 2 values, fewer than n×2 = 4/);
  });
});

describe('computeBounds', () => {
  it('pads the range of each coordinate', () => {
    expect(computeBounds(new Float64Array([0, 0, 10, 2, 5, 1]), 3)).toEqual({ minX: -0.5, maxX: 10.5, minY: -0.1, maxY: 2.1 });
    expect(computeBounds(new Float64Array([0, 0, 10, 2]), 2, 0)).toEqual({ minX: 0, maxX: 10, minY: 0, maxY: 2 });
  });

  it('only reads the first n rows and handles degenerate ranges', () => {
    expect(computeBounds(new Float64Array([1, 2, 100, 100]), 1)).toEqual({ minX: 0.5, maxX: 1.5, minY: 1.5, maxY: 2.5 });
    expect(computeBounds(new Float64Array(0), 0)).toEqual({ minX: -1, maxX: 1, minY: -1, maxY: 1 });
  });

  it('throws on non-finite points', () => {
    expect(() => computeBounds(new Float64Array([0, NaN]), 1)).toThrow(/non-finite/);
  });
});

describe('renderGalleryHtml', () => {
  const frames = [
    { file: 'iter-000.svg', caption: 'initialisation' },
    { file: 'iter-001.svg', caption: 'EM after iteration 1' },
    { file: 'iter-002.svg', caption: 'EM after iteration 2 <b>&</b>' },
  ];

  it('lists the frames in order in the grid and in the player data', () => {
    const html = renderGalleryHtml(frames, 'EM on two blobs');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    const gridSrcs = [...html.matchAll(/<figure[^>]*><img src="([^"]*)"/g)].map((m) => m[1]);
    expect(gridSrcs).toEqual(['iter-000.svg', 'iter-001.svg', 'iter-002.svg']);
    const data = /<script type="application\/json" id="frames">(.*?)<\/script>/s.exec(html);
    expect(JSON.parse(data![1])).toEqual(frames.map((f) => ({ url: f.file, caption: f.caption })));
    expect(html).toContain('<img id="player-img" src="iter-000.svg"');
    expect(html).toContain('max="2"');
  });

  it('escapes captions, title and file names and loads nothing external', () => {
    const html = renderGalleryHtml(
      [...frames, { file: 'a "b"/c#d.svg', caption: '</script><script>alert(1)</script>' }],
      'Title <i>&</i>',
    );
    expect(html).toContain('<title>Title &lt;i&gt;&amp;&lt;/i&gt;</title>');
    expect(html).toContain('<figcaption>EM after iteration 2 &lt;b&gt;&amp;&lt;/b&gt;</figcaption>');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('alert(1)</script>');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).toContain('src="a%20%22b%22/c%23d.svg"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('handles no frames', () => {
    const html = renderGalleryHtml([], 'empty');
    expect(html).toContain('No frames');
    expect(html).not.toContain('<script');
  });
});
