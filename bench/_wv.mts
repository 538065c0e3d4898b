import { from, lastValueFrom, count } from 'rxjs';
import { windowVectors, syntheticStream } from '../src/index.js';
import { Rng } from '../src/gmm/rng.js';
const d = Number(process.argv[2]); const W = Number(process.argv[3] ?? 30);
const rng = new Rng(3);
const cl = Array.from({ length: 4 }, () => { const mean = Array.from({ length: d }, () => 5 * rng.normal()); return { mean: () => mean, sd: Array.from({ length: d }, () => 1), weight: () => 1 }; });
const v = Array.from(syntheticStream(cl, W * 1000, 2), (p) => p.vector);
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage();
  await lastValueFrom(from(v).pipe(windowVectors<number[]>({ size: 1000, dimension: d }), count()));
  const c = process.cpuUsage(c0);
  const c1 = process.cpuUsage();
  await lastValueFrom(from(v).pipe(count()));
  const cc = process.cpuUsage(c1);
  console.log(`D=${d} windowVectors cpu ms/window ${((c.user + c.system) / 1000 / W).toFixed(3)}  (from+count alone ${((cc.user + cc.system) / 1000 / W).toFixed(3)})`);
}
