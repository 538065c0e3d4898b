import { generate, scenario, runEmstream } from './bench/streams.js';
const data = generate(scenario('gradual-2d'));
runEmstream(data, JSON.parse(process.argv[2] ?? '{"seed":1}'), (fit, t) => {
  if (t >= 14 && t <= 34) {
    const p = fit.params;
    const tt = (t + 0.5) / 40;
    console.log(t, 'true A', (-6 + 12 * tt).toFixed(1), 'B', (6 - 12 * tt).toFixed(1), '|', Array.from({ length: 3 }, (_, k) => `${p.weights[k].toFixed(2)}@(${p.means[2 * k].toFixed(1)},${p.means[2 * k + 1].toFixed(1)}) v${p.covariances[4 * k].toFixed(1)}`).join('  '), fit.drift.map((d) => d.kind).join(','));
  }
});
