/**
 * WebAssembly SIMD (f64x2) block log-density kernels for `diag`, `full` and `tied` covariances with
 * D > 16, behind the same interface as the JavaScript kernels of `blocked.ts`.
 *
 * The module is assembled here, at first use, from a few dozen instructions (no toolchain, no native
 * addon, nothing downloaded). Its lanes run over two components (`diag`) or two points (`full`/`tied`),
 * never over the coordinates, so every (point, component) sum receives its terms in exactly the order of
 * the JavaScript kernels: the results are bit-identical to them (tested), and the JavaScript kernels
 * stay the reference and the fallback (no WebAssembly SIMD, or `EMSTREAM_SIMD=0`).
 *
 * Per block the points are copied into the module's memory (a plain copy, rows kept), the parameters
 * once per E-step ({@link SimdLogProb.prepare}).
 *
 * @module
 */
import type { CovarianceType } from './types.js';

// ---- a minimal WebAssembly binary writer -------------------------------------------------------------

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** A function body under construction: locals by name, instructions as bytes. */
class Fn {
  readonly code: number[] = [];
  private readonly names = new Map<string, number>();
  private readonly localTypes: number[] = [];
  constructor(
    readonly params: string[],
    private readonly paramType = I32,
  ) {
    params.forEach((p, i) => this.names.set(p, i));
  }
  local(name: string, type: number): void {
    this.names.set(name, this.params.length + this.localTypes.length);
    this.localTypes.push(type);
  }
  private idx(name: string): number {
    const i = this.names.get(name);
    if (i === undefined) throw new Error(`wasm: unknown local ${name}`);
    return i;
  }
  get(n: string): this {
    this.code.push(0x20);
    uleb(this.idx(n), this.code);
    return this;
  }
  set(n: string): this {
    this.code.push(0x21);
    uleb(this.idx(n), this.code);
    return this;
  }
  i32(v: number): this {
    this.code.push(0x41);
    sleb(v, this.code);
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  simd(op: number, ...imm: number[]): this {
    this.code.push(0xfd);
    uleb(op, this.code);
    this.code.push(...imm);
    return this;
  }
  /** memarg: alignment exponent, byte offset. */
  mem(op: number, align: number, offset: number, isSimd = false): this {
    if (isSimd) {
      this.code.push(0xfd);
      uleb(op, this.code);
    } else this.code.push(op);
    uleb(align, this.code);
    uleb(offset, this.code);
    return this;
  }
  f64load(offset = 0): this {
    return this.mem(0x2b, 3, offset);
  }
  f64store(offset = 0): this {
    return this.mem(0x39, 3, offset);
  }
  vload(offset = 0): this {
    return this.mem(0x00, 3, offset, true);
  }
  vstore(offset = 0): this {
    return this.mem(0x0b, 3, offset, true);
  }
  splatLoad(offset = 0): this {
    return this.mem(0x0a, 3, offset, true);
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  vadd(): this {
    return this.simd(240);
  }
  vsub(): this {
    return this.simd(241);
  }
  vmul(): this {
    return this.simd(242);
  }
  vzero(): this {
    this.code.push(0xfd);
    uleb(12, this.code);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }
  vhalf(): this {
    const b = new Uint8Array(new Float64Array([0.5, 0.5]).buffer);
    this.code.push(0xfd);
    uleb(12, this.code);
    this.code.push(...b);
    return this;
  }
  /** `for (v = from; v < limit; v += step) body` with i32 locals (limit read from a local each time). */
  loop(v: string, from: () => void, limit: string, step: number, body: () => void): this {
    from();
    this.set(v);
    this.op(0x02, 0x40); // block
    this.get(v).get(limit).op(0x4e).op(0x0d, 0); // v >= limit → br_if out
    this.op(0x03, 0x40); // loop
    body();
    this.get(v).i32(step).add().set(v);
    this.get(v).get(limit).op(0x48).op(0x0d, 0); // v < limit → continue
    this.op(0x0b, 0x0b);
    return this;
  }
  body(): number[] {
    const out: number[] = [];
    // locals: one entry per local (count 1, type)
    uleb(this.localTypes.length, out);
    for (const t of this.localTypes) out.push(1, t);
    out.push(...this.code, 0x0b);
    const sized: number[] = [];
    uleb(out.length, sized);
    return [...sized, ...out];
  }
  signature(): number[] {
    const out = [0x60];
    uleb(this.params.length, out);
    for (let i = 0; i < this.params.length; i++) out.push(this.paramType);
    out.push(0);
    return out;
  }
}

function section(id: number, payload: number[]): number[] {
  const out = [id];
  uleb(payload.length, out);
  return out.concat(payload);
}

function moduleBytes(fns: { name: string; fn: Fn }[]): Uint8Array {
  const types: number[] = [];
  uleb(fns.length, types);
  fns.forEach(({ fn }) => types.push(...fn.signature()));
  const imports: number[] = [1, 1, 0x65, 1, 0x6d, 0x02, 0x00, 1]; // "e"."m": memory, min 1 page
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  fns.forEach((_, i) => uleb(i, funcs));
  const exports: number[] = [];
  uleb(fns.length, exports);
  fns.forEach(({ name }, i) => {
    uleb(name.length, exports);
    for (const ch of name) exports.push(ch.charCodeAt(0));
    exports.push(0x00);
    uleb(i, exports);
  });
  const code: number[] = [];
  uleb(fns.length, code);
  fns.forEach(({ fn }) => code.push(...fn.body()));
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, types), ...section(2, imports), ...section(3, funcs), ...section(7, exports), ...section(10, code)]);
}

// ---- the kernels -------------------------------------------------------------------------------------

/**
 * diag(P, D, NB, X, MP, PP, LC, LP): for component pairs p < P, points i < NB (a multiple of 4):
 * LP[i·2P + 2p + l] = LC[2p + l] − ½ Σ_a ((X[i·D + a] − MP[p][a][l]) · PP[p][a][l])², lanes l = 0, 1.
 * Byte offsets; MP/PP hold each pair's values interleaved per coordinate.
 */
function diagKernel(): Fn {
  const f = new Fn(['P', 'D', 'NB', 'X', 'MP', 'PP', 'LC', 'LP']);
  for (const n of ['p', 'i', 'a', 'o0', 'o1', 'o2', 'o3', 'mpb', 'ppb', 'row', 'am', 'ax', 'lpRow']) f.local(n, I32);
  for (const n of ['q0', 'q1', 'q2', 'q3', 'm', 'w', 'y', 'lc']) f.local(n, V128);
  f.local('rowBytes', I32);
  f.local('pairBytes', I32);
  f.get('D').i32(8).mul().set('rowBytes');
  f.get('D').i32(16).mul().set('pairBytes');
  f.loop(
    'p',
    () => f.i32(0),
    'P',
    1,
    () => {
      f.get('MP').get('p').get('pairBytes').mul().add().set('mpb');
      f.get('PP').get('p').get('pairBytes').mul().add().set('ppb');
      f.get('LC').get('p').i32(16).mul().add().vload().set('lc');
      f.loop(
        'i',
        () => f.i32(0),
        'NB',
        4,
        () => {
          f.get('X').get('i').get('rowBytes').mul().add().set('o0');
          f.get('o0').get('rowBytes').add().set('o1');
          f.get('o1').get('rowBytes').add().set('o2');
          f.get('o2').get('rowBytes').add().set('o3');
          for (const q of ['q0', 'q1', 'q2', 'q3']) f.vzero().set(q);
          f.loop(
            'a',
            () => f.i32(0),
            'D',
            1,
            () => {
              f.get('a').i32(16).mul().set('am');
              f.get('mpb').get('am').add().vload().set('m');
              f.get('ppb').get('am').add().vload().set('w');
              f.get('a').i32(8).mul().set('ax');
              ['o0', 'o1', 'o2', 'o3'].forEach((o, q) => {
                // y = (x − m) · w; q += y·y
                f.get(o).get('ax').add().splatLoad().get('m').vsub().get('w').vmul().set('y');
                f.get(`q${q}`).get('y').get('y').vmul().vadd().set(`q${q}`);
              });
            },
          );
          // LP rows i..i+3, columns 2p, 2p+1: lc − 0.5·q
          f.get('P').i32(16).mul().set('row');
          f.get('LP').get('i').get('row').mul().add().get('p').i32(16).mul().add().set('lpRow');
          for (let q = 0; q < 4; q++) {
            f.get('lpRow');
            if (q > 0) f.get('row').i32(q).mul().add();
            f.get('lc').vhalf().get(`q${q}`).vmul().vsub().vstore();
          }
        },
      );
    },
  );
  return f;
}

/**
 * full(K, D, NB, X, M, W, WSTRIDE, LC, LP, DIFF): for components k < K and points i < NB (a multiple of
 * 4), ‖W_k (x_i − μ_k)‖² over the lower triangle, two rows per step, lanes over two points:
 * LP[i·K + k] = LC[k] − ½ Σ_j s_j². WSTRIDE: bytes between components' factors (0 for tied).
 */
function fullKernel(): Fn {
  const f = new Fn(['K', 'D', 'NB', 'X', 'M', 'W', 'WSTRIDE', 'LC', 'LP', 'DIFF']);
  for (const n of ['k', 'i', 'a', 'j', 'jn', 'mb', 'wb', 'o0', 'r0', 'r1', 'ad', 'lim', 'lp', 'rowBytes', 'd2']) f.local(n, I32);
  for (const n of ['q01', 'q23', 's0a', 's0b', 's1a', 's1b', 'w0', 'w1', 'd01', 'd23', 'lc']) f.local(n, V128);
  f.local('m', F64);
  f.get('D').i32(8).mul().set('rowBytes');
  f.get('D').i32(-1).add().set('d2'); // rows j, j+1 while j + 1 < D, i.e. j < D − 1
  f.loop(
    'k',
    () => f.i32(0),
    'K',
    1,
    () => {
      f.get('M').get('k').get('rowBytes').mul().add().set('mb');
      f.get('W').get('k').get('WSTRIDE').mul().add().set('wb');
      f.get('LC').get('k').i32(8).mul().add().splatLoad().set('lc');
      f.loop(
        'i',
        () => f.i32(0),
        'NB',
        4,
        () => {
          f.get('X').get('i').get('rowBytes').mul().add().set('o0');
          // DIFF[4a + q] = x_q[a] − μ[a]
          f.loop(
            'a',
            () => f.i32(0),
            'D',
            1,
            () => {
              f.get('mb').get('a').i32(8).mul().add().f64load().set('m');
              f.get('DIFF').get('a').i32(32).mul().add().set('ad');
              for (let q = 0; q < 4; q++) {
                f.get('ad');
                f.get('o0').get('a').i32(8).mul().add();
                if (q > 0) f.get('rowBytes').i32(q).mul().add();
                f.f64load().get('m').op(0xa1).f64store(q * 8);
              }
            },
          );
          f.vzero().set('q01').vzero().set('q23');
          f.loop(
            'j',
            () => f.i32(0),
            'd2',
            2,
            () => {
              f.get('wb').get('j').get('rowBytes').mul().add().set('r0');
              f.get('r0').get('rowBytes').add().set('r1');
              for (const s of ['s0a', 's0b', 's1a', 's1b']) f.vzero().set(s);
              f.get('j').i32(1).add().set('lim');
              f.loop(
                'a',
                () => f.i32(0),
                'lim',
                1,
                () => {
                  f.get('r0').get('a').i32(8).mul().add().splatLoad().set('w0');
                  f.get('r1').get('a').i32(8).mul().add().splatLoad().set('w1');
                  f.get('DIFF').get('a').i32(32).mul().add().set('ad');
                  f.get('ad').vload().set('d01');
                  f.get('ad').vload(16).set('d23');
                  f.get('s0a').get('w0').get('d01').vmul().vadd().set('s0a');
                  f.get('s0b').get('w0').get('d23').vmul().vadd().set('s0b');
                  f.get('s1a').get('w1').get('d01').vmul().vadd().set('s1a');
                  f.get('s1b').get('w1').get('d23').vmul().vadd().set('s1b');
                },
              );
              // row j+1's diagonal term a = j + 1
              f.get('j').i32(1).add().set('jn');
              f.get('r1').get('jn').i32(8).mul().add().splatLoad().set('w1');
              f.get('DIFF').get('jn').i32(32).mul().add().set('ad');
              f.get('s1a').get('w1').get('ad').vload().vmul().vadd().set('s1a');
              f.get('s1b').get('w1').get('ad').vload(16).vmul().vadd().set('s1b');
              f.get('q01').get('s0a').get('s0a').vmul().vadd().set('q01');
              f.get('q01').get('s1a').get('s1a').vmul().vadd().set('q01');
              f.get('q23').get('s0b').get('s0b').vmul().vadd().set('q23');
              f.get('q23').get('s1b').get('s1b').vmul().vadd().set('q23');
            },
          );
          // a last single row when D is odd: j = D − 1
          f.get('D').i32(1).op(0x71).op(0x04, 0x40); // if (D & 1)
          f.get('D').i32(-1).add().set('j');
          f.get('wb').get('j').get('rowBytes').mul().add().set('r0');
          f.vzero().set('s0a').vzero().set('s0b');
          f.get('D').set('lim');
          f.loop(
            'a',
            () => f.i32(0),
            'lim',
            1,
            () => {
              f.get('r0').get('a').i32(8).mul().add().splatLoad().set('w0');
              f.get('DIFF').get('a').i32(32).mul().add().set('ad');
              f.get('s0a').get('w0').get('ad').vload().vmul().vadd().set('s0a');
              f.get('s0b').get('w0').get('ad').vload(16).vmul().vadd().set('s0b');
            },
          );
          f.get('q01').get('s0a').get('s0a').vmul().vadd().set('q01');
          f.get('q23').get('s0b').get('s0b').vmul().vadd().set('q23');
          f.op(0x0b); // end if
          // LP[(i + q)·K + k] = lc − 0.5·q
          f.get('lc').vhalf().get('q01').vmul().vsub().set('q01');
          f.get('lc').vhalf().get('q23').vmul().vsub().set('q23');
          f.get('LP').get('i').get('K').mul().get('k').add().i32(8).mul().add().set('lp');
          const lane = (v: string, l: number, q: number) => {
            f.get('lp');
            if (q > 0) f.get('K').i32(8 * q).mul().add();
            f.get(v).simd(33, l).f64store();
          };
          lane('q01', 0, 0);
          lane('q01', 1, 1);
          lane('q23', 0, 2);
          lane('q23', 1, 3);
        },
      );
    },
  );
  return f;
}

interface Exports {
  diag(P: number, D: number, NB: number, X: number, MP: number, PP: number, LC: number, LP: number): void;
  full(K: number, D: number, NB: number, X: number, M: number, W: number, WSTRIDE: number, LC: number, LP: number, DIFF: number): void;
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = process.env.EMSTREAM_SIMD === '0' || wasm === undefined ? null : new wasm.Module(moduleBytes([{ name: 'diag', fn: diagKernel() }, { name: 'full', fn: fullKernel() }]));
    } catch {
      compiled = null; // no WebAssembly SIMD here: the JavaScript kernels run
    }
  }
  return compiled;
}

/** Points per call of the kernels (the E-step's block, padded to a multiple of 4). */
const MAX_ROWS = 260;

/**
 * The WebAssembly kernels of one thread: {@link prepare} once per E-step (copies the parameters), then
 * {@link logProb} per block.
 */
export class SimdLogProb {
  private readonly memory: WasmMemory;
  private readonly fns: Exports;
  private f64: Float64Array;
  private layout = { x: 0, mp: 0, pp: 0, lc: 0, lp: 0, diff: 0, end: 0 };
  private type: CovarianceType = 'diag';
  private K = 0;
  private D = 0;

  private constructor(api: WasmApi, module: object) {
    this.memory = new api.Memory({ initial: 1 });
    this.fns = new api.Instance(module, { e: { m: this.memory } }).exports as unknown as Exports;
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /** The kernels, or null when WebAssembly SIMD is not available (or `EMSTREAM_SIMD=0`). */
  static create(): SimdLogProb | null {
    const m = wasmModule();
    return m === null || wasm === undefined ? null : new SimdLogProb(wasm, m);
  }

  /** Whether these kernels serve a covariance type at dimension D (D > 16; not spherical). */
  static serves(type: CovarianceType, d: number): boolean {
    return d > 16 && type !== 'spherical';
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /**
   * Copies the parameters for the next blocks.
   *
   * @param means K×D; `prec` as in `covariance.ts`; `lc` K
   */
  prepare(type: CovarianceType, K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array): void {
    this.type = type;
    this.K = K;
    this.D = D;
    const x = 0;
    const xBytes = MAX_ROWS * D * 8;
    if (type === 'diag') {
      const P = Math.ceil(K / 2);
      const mp = xBytes;
      const pp = mp + P * D * 16;
      const lcOff = pp + P * D * 16;
      const lp = lcOff + P * 16;
      const end = lp + MAX_ROWS * P * 16;
      this.ensure(end);
      const f = this.f64;
      for (let p = 0; p < P; p++) {
        for (let l = 0; l < 2; l++) {
          const k = 2 * p + l;
          const base = (p * D * 2 + l) as number;
          if (k < K) {
            for (let a = 0; a < D; a++) {
              f[mp / 8 + base + 2 * a] = means[k * D + a];
              f[pp / 8 + base + 2 * a] = prec[k * D + a];
            }
            f[lcOff / 8 + k] = lc[k];
          } else {
            for (let a = 0; a < D; a++) {
              f[mp / 8 + base + 2 * a] = 0;
              f[pp / 8 + base + 2 * a] = 0;
            }
            f[lcOff / 8 + k] = 0;
          }
        }
      }
      this.layout = { x, mp, pp, lc: lcOff, lp, diff: 0, end };
    } else {
      const mOff = xBytes;
      const wOff = mOff + K * D * 8;
      const wCount = type === 'tied' ? D * D : K * D * D;
      const lcOff = wOff + wCount * 8;
      const lp = lcOff + K * 8;
      const diff = lp + MAX_ROWS * K * 8;
      const end = diff + 4 * D * 8;
      this.ensure(end);
      const f = this.f64;
      f.set(means.subarray(0, K * D), mOff / 8);
      f.set(prec.subarray(0, wCount), wOff / 8);
      f.set(lc.subarray(0, K), lcOff / 8);
      this.layout = { x, mp: mOff, pp: wOff, lc: lcOff, lp, diff, end };
    }
  }

  /** `LP[i·K + k]` for the nb points of the block at row `start` of `x` (see `LogProbKernel`). */
  logProb(x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
    const { K, D, layout } = this;
    const f = this.f64;
    const nbp = (nb + 3) & ~3;
    if (x instanceof Float64Array || x instanceof Float32Array) f.set(x.subarray(start * D, (start + nb) * D), 0);
    else for (let i = 0; i < nb * D; i++) f[i] = x[start * D + i];
    f.fill(0, nb * D, nbp * D);
    if (this.type === 'diag') {
      const P = Math.ceil(K / 2);
      this.fns.diag(P, D, nbp, layout.x, layout.mp, layout.pp, layout.lc, layout.lp);
      const stride = 2 * P;
      const base = layout.lp / 8;
      for (let i = 0; i < nb; i++) for (let k = 0; k < K; k++) LP[i * K + k] = f[base + i * stride + k];
    } else {
      this.fns.full(K, D, nbp, layout.x, layout.mp, layout.pp, this.type === 'tied' ? 0 : D * D * 8, layout.lc, layout.lp, layout.diff);
      LP.set(f.subarray(layout.lp / 8, layout.lp / 8 + nb * K));
    }
  }
}
