import { generate, scenario, runEmstream } from './bench/streams.js';
import { eStep, precompute } from './src/gmm/estep.js';
const name = process.argv[2] ?? 'gradual-2d';
const data = generate(scenario(name));
runEmstream(data, JSON.parse(process.argv[3] ?? '{"seed":1}'), (fit, t) => {
  const p = fit.params; const K = p.k; const n = data.scenario.size;
  const pre = precompute(p); if (!pre.ok) return;
  const resp = new Float64Array(n * K);
  eStep(pre.value, data.windows[t], n, false, null, { resp });
  let best = 0, pair = '';
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) {
    let ij = 0, ii = 0, jj = 0;
    for (let q = 0; q < n; q++) { const a = resp[q * K + i], b = resp[q * K + j]; ij += a * b; ii += a * a; jj += b * b; }
    const c = ij / Math.sqrt(ii * jj);
    if (c > best) { best = c; pair = `${i}-${j}`; }
  }
  if (t % 2 === 0 || t > 14 && t < 34) console.log(t, 'max cos', best.toFixed(3), pair, Array.from(p.weights).map((w) => w.toFixed(2)).join(' '));
});
