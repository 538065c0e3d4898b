import { SKIP_WEIGHT } from './stats.js';
import type { CovarianceType } from './types.js';

/**
 * Compiled E-step passes: for a covariance type and a dimension D ≤ {@link MAX_UNROLLED_D}, the
 * whole per-point loop (log-densities, log-sum-exp, responsibilities, statistics) is generated
 * once with the D-loops unrolled, so the coordinates and the centred point live in locals
 * instead of typed-array slots. The arithmetic is the same, in the same order, as the generic
 * kernels in `estep.ts` and `stats.ts`, so both give bit-identical results (tested).
 *
 * Generated once per (type, D) and cached; no data reaches the generated source, only integers.
 */
export const MAX_UNROLLED_D = 16;

/** Arguments of a compiled pass, in one object so the signature stays stable. Shapes as in `Precomputed`/`SufficientStats`. */
export interface PassArgs {
  data: ArrayLike<number>;
  n: number;
  k: number;
  means: Float64Array;
  prec: Float64Array;
  /** K values: log π_k − ½·D·log 2π + log det W_k. */
  lc: Float64Array;
  hard: boolean;
  /** null: do not accumulate. */
  s0: Float64Array | null;
  s1: Float64Array | null;
  s2: Float64Array | null;
  shift: Float64Array | null;
  resp: Float64Array | null;
  logDensity: Float64Array | null;
  labels: Int32Array | null;
  maxProb: Float64Array | null;
  /** K scratch values each. */
  lp: Float64Array;
  r: Float64Array;
  /** Out: [Σ log p(x_i), Q, index of the worst point]. */
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

/** Source of the pass; see `eStep` in estep.ts for the algorithm. */
function generate(type: CovarianceType, D: number): string {
  const T = (D * (D + 1)) / 2;
  const L: string[] = [];
  const emit = (s: string): void => {
    L.push(s);
  };
  emit(`"use strict";`);
  emit(`const data=a.data,n=a.n,K=a.k,means=a.means,prec=a.prec,lc=a.lc,hard=a.hard;`);
  emit(`const s0=a.s0,s1=a.s1,s2=a.s2,shift=a.shift,resp=a.resp,logDensity=a.logDensity,labels=a.labels,maxProb=a.maxProb,lp=a.lp,r=a.r;`);
  emit(`const acc=s0!==null;`);
  emit(`let sh0=0${range(D).slice(1).map((j) => `,sh${j}=0`).join('')};`);
  emit(`if(acc){${range(D).map((j) => `sh${j}=shift[${j}];`).join('')}}`);
  emit(`let ll=0,q=0,worst=0,worstValue=Infinity;`);
  emit(`for(let i=0;i<n;i++){`);
  emit(`const o=i*${D};`);
  emit(range(D).map((j) => `const x${j}=data[o+${j}];`).join(''));
  emit(`let best=0,max=-Infinity;`);
  emit(`for(let k=0;k<K;k++){`);
  emit(`const mb=k*${D};`);
  if (type === 'full' || type === 'tied') {
    emit(range(D).map((j) => `const d${j}=x${j}-means[mb+${j}];`).join(''));
    emit(type === 'full' ? `const wb=k*${D * D};` : `const wb=0;`);
    emit(`let sq=0;`);
    for (let j = 0; j < D; j++) {
      // s = Σ_{a≤j} W[j][a]·d_a, summed from a = 0 (same order as the generic kernel)
      emit(`{let s=0;${range(j + 1).map((aa) => `s+=prec[wb+${j * D + aa}]*d${aa};`).join('')}sq+=s*s;}`);
    }
    emit(`const v=lc[k]-0.5*sq;`);
  } else if (type === 'diag') {
    emit(`let sq=0;`);
    emit(range(D).map((j) => `{const y=(x${j}-means[mb+${j}])*prec[mb+${j}];sq+=y*y;}`).join(''));
    emit(`const v=lc[k]-0.5*sq;`);
  } else {
    emit(`let sq=0;`);
    emit(range(D).map((j) => `{const y=x${j}-means[mb+${j}];sq+=y*y;}`).join(''));
    emit(`const pk=prec[k];const v=lc[k]-0.5*sq*pk*pk;`);
  }
  emit(`lp[k]=v;if(k===0||v>max){max=v;best=k;}`);
  emit(`}`); // k
  emit(`let sum=0;for(let k=0;k<K;k++){const e=Math.exp(lp[k]-max);r[k]=e;sum+=e;}`);
  emit(`const logp=max+Math.log(sum);ll+=logp;if(logp<worstValue){worstValue=logp;worst=i;}`);
  emit(`if(hard){r.fill(0);r[best]=1;q+=lp[best];}else{const inv=1/sum;for(let k=0;k<K;k++){const w=r[k]*inv;r[k]=w;if(w>0)q+=w*lp[k];}}`);
  emit(`if(acc){`);
  emit(range(D).map((j) => `const c${j}=x${j}-sh${j};`).join(''));
  if (type === 'tied') emit(`let wsum=0;`);
  emit(`for(let k=0;k<K;k++){const w=r[k];`);
  if (type === 'tied') emit(`wsum+=w;`);
  emit(`if(w<${SKIP_WEIGHT})continue;s0[k]+=w;const b1=k*${D};`);
  if (type === 'full') {
    emit(`const p=k*${T};`);
    let p = 0;
    for (let aa = 0; aa < D; aa++) {
      emit(`{const wa=w*c${aa};s1[b1+${aa}]+=wa;${range(aa + 1).map((b) => `s2[p+${p + b}]+=wa*c${b};`).join('')}}`);
      p += aa + 1;
    }
  } else if (type === 'diag' || type === 'spherical') {
    emit(range(D).map((j) => `{const wa=w*c${j};s1[b1+${j}]+=wa;s2[b1+${j}]+=wa*c${j};}`).join(''));
  } else {
    emit(range(D).map((j) => `s1[b1+${j}]+=w*c${j};`).join(''));
  }
  emit(`}`); // k
  if (type === 'tied') {
    let p = 0;
    for (let aa = 0; aa < D; aa++) {
      emit(`{const wa=wsum*c${aa};${range(aa + 1).map((b) => `s2[${p + b}]+=wa*c${b};`).join('')}}`);
      p += aa + 1;
    }
  }
  emit(`}`); // acc
  emit(`if(resp!==null)resp.set(r,i*K);`);
  emit(`if(logDensity!==null)logDensity[i]=logp;`);
  emit(`if(labels!==null)labels[i]=best;`);
  emit(`if(maxProb!==null)maxProb[i]=hard?1:r[best];`);
  emit(`}`); // i
  emit(`a.out[0]=ll;a.out[1]=q;a.out[2]=worst;`);
  return L.join('\n');
}
