import { describe, expect, it } from 'vitest';
import type { GmmParams } from '../../src/gmm/types.js';
import { CHARTS_SCRIPT, type TimelineRow } from '../../src/viz/charts.js';
import { renderGalleryHtml } from '../../src/viz/gallery.js';
import { renderMixtureSvg } from '../../src/viz/svg.js';

const params: GmmParams = { k: 1, d: 2, covarianceType: 'spherical', weights: new Float64Array([1]), means: new Float64Array([0, 0]), covariances: new Float64Array([1]) };

function row(w: number, ll: number): TimelineRow {
  return {
    windowIndex: w, modelVersion: w + 1, fittedAt: 1000 * w, n: 100, iterations: 3, restarted: false,
    logLikelihood: ll, predictiveLogLikelihood: w === 0 ? null : ll - 0.1, expectedLogLikelihood: ll - 0.2,
    modelDistance: 0.01, distanceThreshold: 0.5, pageHinkley: 0, pageHinkleyThreshold: 1, componentStatistic: 0.5, componentThreshold: 4,
    weightsStatistic: 0.2, weightsThreshold: 2.75, drifting: false, weights: [1], rate: null, lag: null,
  };
}

describe('renderMixtureSvg axis titles', () => {
  it('draws them only when given, escaped', () => {
    const points = new Float64Array([0, 0, 1, 1]);
    const plain = renderMixtureSvg({ points, n: 2, labels: null, params });
    expect(plain).not.toContain('x-label');
    const titled = renderMixtureSvg({ points, n: 2, labels: null, params, xLabel: 'x₁ <m>', yLabel: 'x₂ & y' });
    expect(titled).toMatch(/<text class="x-label"[^>]*>x₁ &lt;m&gt;<\/text>/);
    expect(titled).toMatch(/<text class="y-label"[^>]*transform="rotate\(-90 [^"]+\)"[^>]*>x₂ &amp; y<\/text>/);
  });
});

describe('renderGalleryHtml with a timeline', () => {
  const frames = [
    { file: 'window-000.svg', caption: 'window 0', windowIndex: 0 },
    { file: 'window-004.svg', caption: 'window 4', windowIndex: 4 },
  ];

  it('adds the description, the charts and their data, and loads Chart.js from a relative URL', () => {
    const rows = [row(0, -3.5), row(1, -3.6)];
    const drift = [{ windowIndex: 1, modelVersion: 2, kind: 'likelihood', statistic: 1.2, threshold: 1, moved: [0] }];
    const html = renderGalleryHtml(frames, 'demo', { description: 'Three clusters </p><script>x</script>', timeline: { rows, drift } });
    expect(html).toContain('<p id="description">Three clusters &lt;/p&gt;&lt;script&gt;x&lt;/script&gt;</p>');
    expect(html).toContain('<canvas id="timeline-likelihood"');
    expect(html).toContain('<canvas id="timeline-drift"');
    expect(html).toContain('<script src="assets/chart.umd.min.js"></script>');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const data = /<script type="application\/json" id="timeline-data">(.*?)<\/script>/s.exec(html)!;
    expect(JSON.parse(data[1])).toEqual({ rows, drift });
    const framesJson = /<script type="application\/json" id="frames">(.*?)<\/script>/s.exec(html)!;
    expect(JSON.parse(framesJson[1])).toEqual(frames.map((f) => ({ url: f.file, caption: f.caption, windowIndex: f.windowIndex })));
    expect(html).toContain(CHARTS_SCRIPT);
    expect(renderGalleryHtml(frames, 'demo', { timeline: { rows, drift }, chartJs: 'lib/chart.js' })).toContain('<script src="lib/chart.js"></script>');
  });

  it('keeps the plain gallery as it was without a timeline', () => {
    const html = renderGalleryHtml(frames, 'demo');
    expect(html).not.toContain('<canvas');
    expect(html).not.toContain('timeline-data');
    expect(html).not.toContain('chart.umd');
    expect(html.match(/<script/g)).toHaveLength(2);
  });

  it('ships chart scripts that parse', () => {
    expect(() => new Function(CHARTS_SCRIPT)).not.toThrow();
  });
});
