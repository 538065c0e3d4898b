// interleaved before/after: node --import tsx bench/_cmp.mts D K cov windows repeats
import { execFileSync } from 'node:child_process';
const [d, k, cov, windows, repeats] = process.argv.slice(2);
const one = (root: string): { wallMs: number; cpuMs: number } => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', `import('${root}/bench/operator.ts').then(async m => { const { syntheticStream } = await import('${root}/src/index.ts'); const { Rng } = await import('${root}/src/gmm/rng.ts'); const rng = new Rng(3); const cl = Array.from({ length: ${k} }, () => { const mean = Array.from({ length: ${d} }, () => 5 * rng.normal()); return { mean: () => mean, sd: Array.from({ length: ${d} }, () => 1), weight: () => 1 }; }); const v = Array.from(syntheticStream(cl, (${windows} + 5) * 1000, 2), (p) => p.vector); console.log(JSON.stringify(await m.operatorTimes(v, ${d}, ${k}, "${cov}"))); })`], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
};
const a: { wallMs: number; cpuMs: number }[] = [], b: { wallMs: number; cpuMs: number }[] = [];
for (let r = 0; r < Number(repeats ?? 3); r++) { a.push(one('/tmp/speed/base')); b.push(one('/work/wt/speed')); }
const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
console.log(JSON.stringify({ d, k, cov, baseCpu: med(a.map((x) => x.cpuMs)), newCpu: med(b.map((x) => x.cpuMs)), baseWall: med(a.map((x) => x.wallMs)), newWall: med(b.map((x) => x.wallMs)), base: a.map((x) => x.cpuMs.toFixed(2)), new: b.map((x) => x.cpuMs.toFixed(2)) }));
