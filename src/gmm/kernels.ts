import { SKIP_WEIGHT } from './blocked.js';
import type { CovarianceType } from './types.js';

/**
 * Compiled E-step passes. For a covariance type and a dimension D ≤ {@link MAX_UNROLLED_D}, the
 * E-step over a batch is generated once with every D-loop unrolled, and runs over blocks of
 * {@link BLOCK} points in three sweeps:
 *
 * 1. component-major: μ_k and the precision factor W_k are loaded into locals once per block, then
 *    lp_ik = log π_k + log N(x_i | μ_k, Σ_k) for every point of the block (no typed-array reads of
 *    the parameters in the inner loop);
 * 2. point-major: log-sum-exp, responsibilities, log-likelihood, Q, outputs;
 * 3. component-major: the block's statistics of component k are summed in locals (s0, D for s1,
 *    D(D+1)/2 for s2) and added to the accumulator once per block.
 *
 * The generic path in `estep.ts` does the same arithmetic in the same order, so both give
 * bit-identical results (tested); only integers reach the generated source, never data.
 */
export const MAX_UNROLLED_D = 16;

/**
 * Below this, Math.exp(x) is exactly 0 (the smallest subnormal is e^−744.44; e^−745.14 rounds to 0): the
 * normalisation skips the call there, which changes no bit, as it does at 0 (the largest component of each point:
 * exp(0) = 1). The cut-off of an E-step asked for exact tails (`EStepOutputs.exactTails`).
 */
export const EXP_UNDERFLOW = -746;

/**
 * The cut-off of every other E-step: a component whose log-density for a point lies more than 60·ln 2 ≈ 41.6 nats
 * below the point's best takes responsibility 0 for it, instead of a value below 2⁻⁶⁰. The statistics skip such
 * weights anyway (`SKIP_WEIGHT`), and no sum of responsibilities can tell (2⁻⁶⁰ is 2⁻⁸ of an ulp of 1); only a
 * logarithm of one can (`screenMoves`' removal costs, which ask for exact tails). The normalisation skips
 * `Math.exp` there, and the WebAssembly kernels stop evaluating such a component as soon as a partial sum shows it
 * (`diagPrune`, `fullPrune`): every path gives the same bits.
 */
export const RESP_CUTOFF = -60 * Math.LN2;

/** Points per block: K·BLOCK responsibilities stay in cache between the sweeps. */
export const BLOCK = 256;

/** Arguments of a compiled pass. Shapes as in `Precomputed` / `SufficientStats`. */
export interface PassArgs {
  data: ArrayLike<number>;
  n: number;
  k: number;
  means: Float64Array;
  prec: Float64Array;
  /** K values: log π_k − ½·D·log 2π + log det W_k. */
  lc: Float64Array;
  hard: boolean;
  /** The normalisation's cut-off: {@link RESP_CUTOFF}, or {@link EXP_UNDERFLOW} for exact tails. */
  cut: number;
  /** null: do not accumulate. */
  s0: Float64Array | null;
  s1: Float64Array | null;
  s2: Float64Array | null;
  shift: Float64Array | null;
  resp: Float64Array | null;
  logDensity: Float64Array | null;
  labels: Int32Array | null;
  maxProb: Float64Array | null;
  /** BLOCK×K scratch each: log-probabilities and responsibilities of the block. */
  lp: Float64Array;
  r: Float64Array;
  /** Out: [Σ log p(x_i), Q, index of the worst point, its log-density]. */
  out: Float64Array;
}

export type CompiledPass = (a: PassArgs) => void;

const cache = new Map<string, CompiledPass>();

/** The compiled pass for (type, D), or null when D is too large to unroll. */
export function compiledPass(type: CovarianceType, d: number): CompiledPass | null {
  if (d > MAX_UNROLLED_D || d < 1) return null;
  const key = `${type}:${d}`;
  let fn = cache.get(key);
  if (fn === undefined) {
    fn = new Function('a', generate(type, d)) as CompiledPass;
    cache.set(key, fn);
  }
  return fn;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Packed lower-triangle index pairs (a, b), b ≤ a, in storage order. */
function pairs(D: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < D; a++) for (let b = 0; b <= a; b++) out.push([a, b]);
  return out;
}

/** The pieces of a pass's source that depend on the covariance type (everything else is shared). */
interface PassSource {
  /** Once, before the blocks (tied: its one precision factor). */
  prelude(D: number, P: [number, number][]): string[];
  /** Sweep 1, per component: its precision factor into locals. */
  loadPrecision(D: number, P: [number, number][]): string[];
  /** Sweep 1, per point: `LP[i*K+k]` from the row at offset `o`. */
  logProbability(D: number): string[];
  /** Sweep 3, per component: the locals of its second moment. */
  statsLocals(D: number, P: [number, number][]): string[];
  /** Sweep 3, per point: add `w`·(c, ccᵀ) to the locals. */
  statsAccumulate(D: number): string[];
  /** Sweep 3, per component: add its second-moment locals to `s2`. */
  statsStore(D: number, P: [number, number][], T: number): string[];
  /** Sweep 3, after the components of a block (tied: the pooled second moment). */
  blockEnd(D: number, P: [number, number][]): string[];
}

const none = (): string[] => [];

/** The quadratic form through a lower-triangular factor w{j}_{a} of the differences d{a} (full, tied). */
function triangularLogProbability(D: number): string[] {
  const out = [range(D).map((j) => `const d${j}=data[o+${j}]-m${j};`).join(''), `let sq=0;`];
  for (let j = 0; j < D; j++) out.push(`{let s=0;${range(j + 1).map((aa) => `s+=w${j}_${aa}*d${aa};`).join('')}sq+=s*s;}`);
  out.push(`LP[i*K+k]=lck-0.5*sq;`);
  return out;
}

/** The packed second moment of `w`·c (full; tied's pooled one with `wsum`). */
function packedAccumulate(D: number, weight: string): string[] {
  return range(D).map((aa) => `{const wa=${weight}*c${aa};${weight === 'w' ? `u${aa}+=wa;` : ''}${range(aa + 1).map((b) => `v${aa}_${b}+=wa*c${b};`).join('')}}`);
}

/** Diagonal second moments (diag, spherical). */
const diagonalStats: Pick<PassSource, 'statsLocals' | 'statsAccumulate' | 'statsStore' | 'blockEnd'> = {
  statsLocals: (D) => [`let ${range(D).map((j) => `v${j}=0`).join(',')};`],
  statsAccumulate: (D) => [range(D).map((j) => `{const wa=w*c${j};u${j}+=wa;v${j}+=wa*c${j};}`).join('')],
  statsStore: (D) => [range(D).map((j) => `s2[k*${D}+${j}]+=v${j};`).join('')],
  blockEnd: none,
};

/** The type-specific source of each covariance type's pass. */
const PASS_SOURCES: Readonly<Record<CovarianceType, PassSource>> = {
  full: {
    prelude: none,
    loadPrecision: (D, P) => [`const wb=k*${D * D};` + P.map(([j, aa]) => `const w${j}_${aa}=prec[wb+${j * D + aa}];`).join('')],
    logProbability: triangularLogProbability,
    statsLocals: (_D, P) => [`let ${P.map(([aa, b]) => `v${aa}_${b}=0`).join(',')};`],
    statsAccumulate: (D) => packedAccumulate(D, 'w'),
    statsStore: (_D, P, T) => [P.map(([aa, b], p) => `s2[k*${T}+${p}]+=v${aa}_${b};`).join('')],
    blockEnd: none,
  },
  tied: {
    // one precision factor for every component: load it once
    prelude: (D, P) => [P.map(([j, aa]) => `const w${j}_${aa}=prec[${j * D + aa}];`).join('')],
    loadPrecision: none,
    logProbability: triangularLogProbability,
    statsLocals: none,
    statsAccumulate: (D) => [range(D).map((j) => `u${j}+=w*c${j};`).join('')],
    statsStore: none,
    // pooled second moment: Σ_i (Σ_k w_ik) c_i c_iᵀ
    blockEnd: (D, P) => [
      `let ${P.map(([aa, b]) => `v${aa}_${b}=0`).join(',')};`,
      `for(let i=0;i<nb;i++){let wsum=0;for(let k=0;k<K;k++)wsum+=R[i*K+k];`,
      `const o=(start+i)*${D};` + range(D).map((j) => `const c${j}=data[o+${j}]-sh${j};`).join(''),
      ...packedAccumulate(D, 'wsum'),
      `}`,
      P.map(([aa, b], p) => `s2[${p}]+=v${aa}_${b};`).join(''),
    ],
  },
  diag: {
    prelude: none,
    loadPrecision: (D) => [range(D).map((j) => `const p${j}=prec[k*${D}+${j}];`).join('')],
    logProbability: (D) => [`let sq=0;` + range(D).map((j) => `{const y=(data[o+${j}]-m${j})*p${j};sq+=y*y;}`).join(''), `LP[i*K+k]=lck-0.5*sq;`],
    ...diagonalStats,
  },
  spherical: {
    prelude: none,
    loadPrecision: () => [`const pk=prec[k];`],
    logProbability: (D) => [`let sq=0;` + range(D).map((j) => `{const y=data[o+${j}]-m${j};sq+=y*y;}`).join(''), `LP[i*K+k]=lck-0.5*sq*pk*pk;`],
    ...diagonalStats,
  },
};

/** Source of the pass; see the module comment and `eStep` in estep.ts. */
function generate(type: CovarianceType, D: number): string {
  const T = (D * (D + 1)) / 2;
  const P = pairs(D);
  const g = PASS_SOURCES[type];
  const L: string[] = [];
  const emit = (...s: string[]): void => {
    L.push(...s);
  };

  emit(`"use strict";`);
  emit(`const data=a.data,n=a.n,K=a.k,means=a.means,prec=a.prec,lc=a.lc,hard=a.hard,cut=a.cut;`);
  emit(`const s0=a.s0,s1=a.s1,s2=a.s2,shift=a.shift,resp=a.resp,logDensity=a.logDensity,labels=a.labels,maxProb=a.maxProb,LP=a.lp,R=a.r;`);
  emit(`const acc=s0!==null;`);
  emit(`let ${range(D).map((j) => `sh${j}=0`).join(',')};`);
  emit(`if(acc){${range(D).map((j) => `sh${j}=shift[${j}];`).join('')}}`);
  emit(...g.prelude(D, P));
  emit(`let ll=0,q=0,worst=0,worstValue=Infinity;`);
  emit(`for(let start=0;start<n;start+=${BLOCK}){`);
  emit(`const nb=Math.min(${BLOCK},n-start);`);

  // sweep 1: log-probabilities, component-major
  emit(`for(let k=0;k<K;k++){`);
  emit(range(D).map((j) => `const m${j}=means[k*${D}+${j}];`).join(''));
  emit(...g.loadPrecision(D, P));
  emit(`const lck=lc[k];`);
  emit(`for(let i=0;i<nb;i++){`);
  emit(`const o=(start+i)*${D};`);
  emit(...g.logProbability(D));
  emit(`}}`);

  // sweep 2: per point
  emit(`for(let i=0;i<nb;i++){`);
  emit(`const row=i*K;let best=0,max=LP[row];`);
  emit(`for(let k=1;k<K;k++){const v=LP[row+k];if(v>max){max=v;best=k;}}`);
  emit(`let sum=0;for(let k=0;k<K;k++){const x=LP[row+k]-max;const e=x===0?1:x<cut?0:Math.exp(x);R[row+k]=e;sum+=e;}`);
  emit(`const logp=sum===1?max:max+Math.log(sum);ll+=logp;if(logp<worstValue){worstValue=logp;worst=start+i;}`);
  emit(`if(hard){for(let k=0;k<K;k++)R[row+k]=0;R[row+best]=1;q+=LP[row+best];}else{const inv=1/sum;for(let k=0;k<K;k++){const w=R[row+k]*inv;R[row+k]=w;if(w>0)q+=w*LP[row+k];}}`);
  emit(`const g=start+i;`);
  emit(`if(resp!==null){for(let k=0;k<K;k++)resp[g*K+k]=R[row+k];}`);
  emit(`if(logDensity!==null)logDensity[g]=logp;`);
  emit(`if(labels!==null)labels[g]=best;`);
  emit(`if(maxProb!==null)maxProb[g]=hard?1:R[row+best];`);
  emit(`}`);

  // sweep 3: statistics, component-major, summed in locals per block
  emit(`if(acc){`);
  emit(`for(let k=0;k<K;k++){`);
  emit(`let t0=0;let ${range(D).map((j) => `u${j}=0`).join(',')};`);
  emit(...g.statsLocals(D, P));
  emit(`for(let i=0;i<nb;i++){`);
  emit(`const w=R[i*K+k];if(w<${SKIP_WEIGHT})continue;`);
  emit(`const o=(start+i)*${D};`);
  emit(range(D).map((j) => `const c${j}=data[o+${j}]-sh${j};`).join(''));
  emit(`t0+=w;`);
  emit(...g.statsAccumulate(D));
  emit(`}`); // i
  emit(`s0[k]+=t0;` + range(D).map((j) => `s1[k*${D}+${j}]+=u${j};`).join(''));
  emit(...g.statsStore(D, P, T));
  emit(`}`); // k
  emit(...g.blockEnd(D, P));
  emit(`}`); // acc
  emit(`}`); // block
  emit(`a.out[0]=ll;a.out[1]=q;a.out[2]=worst;a.out[3]=worstValue;`);
  return L.join('\n');
}
