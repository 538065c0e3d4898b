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
import { outer1, SKIP_WEIGHT, type StatsArrays, type StatsScratch } from './blocked.js';
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


/**
 * outer4(D, C0, C1, C2, C3, V, WP): V (packed lower triangle, T values) += Σ_q w_q c_q c_qᵀ for four
 * centred rows c_q at Cq and weights WP[0..3]; lanes over two adjacent entries of a row, each entry
 * receiving its four terms in point order (as `outer4` in blocked.ts).
 */
function outerKernel(): Fn {
  const f = new Fn(['D', 'C0', 'C1', 'C2', 'C3', 'V', 'WP']);
  for (const n of ['a', 'b', 'p0', 'vb', 'cb', 'rowBytes', 'lim', 'pairs', 'ca']) f.local(n, I32);
  for (const n of ['x0', 'x1', 'x2', 'x3', 't']) f.local(n, V128);
  for (const n of ['y0', 'y1', 'y2', 'y3', 'u']) f.local(n, F64);
  f.get('D').i32(8).mul().set('rowBytes');
  f.i32(0).set('p0');
  f.loop(
    'a',
    () => f.i32(0),
    'D',
    1,
    () => {
      // y_q = w_q · c_q[a]
      f.get('a').i32(8).mul().set('ca');
      for (let q = 0; q < 4; q++) {
        f.get('WP').f64load(8 * q);
        f.get(`C${q}`).get('ca').add();
        f.f64load().op(0xa2).set(`y${q}`);
        f.get(`y${q}`).simd(20).set(`x${q}`); // f64x2.splat
      }
      f.get('V').get('p0').i32(8).mul().add().set('vb');
      // entries b = 0 .. a: pairs while b + 1 ≤ a
      f.get('a').i32(1).add().i32(1).op(0x76).set('pairs'); // (a + 1) >> 1
      f.get('pairs').i32(1).op(0x74).set('lim'); // 2·pairs
      f.loop(
        'b',
        () => f.i32(0),
        'lim',
        2,
        () => {
          f.get('b').i32(8).mul().set('cb');
          f.get('vb').get('cb').add().vload().set('t');
          for (let q = 0; q < 4; q++) {
            f.get('t').get(`x${q}`);
            f.get(`C${q}`).get('cb').add();
            f.vload().vmul().vadd().set('t');
          }
          f.get('vb').get('cb').add().get('t').vstore();
        },
      );
      // the last entry b = a when a + 1 is odd (a even)
      f.get('a').i32(1).op(0x71).op(0x45).op(0x04, 0x40); // if ((a & 1) == 0)
      f.get('vb').get('ca').add().f64load().set('u');
      for (let q = 0; q < 4; q++) {
        f.get('u').get(`y${q}`);
        f.get(`C${q}`).get('ca').add();
        f.f64load().op(0xa2).op(0xa0).set('u');
      }
      f.get('vb').get('ca').add().get('u').f64store();
      f.op(0x0b);
      f.get('p0').get('a').add().i32(1).add().set('p0');
    },
  );
  return f;
}

/** centre(N, X, S, C, D): C[i·D + a] = X[i·D + a] − S[a] for N rows (the centring of the statistics). */
function centreKernel(): Fn {
  const f = new Fn(['N', 'X', 'S', 'C', 'D']);
  for (const n of ['i', 'a', 'o', 'lim', 'ao']) f.local(n, I32);
  f.get('D').i32(1).op(0x76).i32(1).op(0x74).set('lim'); // even part of D
  f.loop(
    'i',
    () => f.i32(0),
    'N',
    1,
    () => {
      f.get('i').get('D').mul().i32(8).mul().set('o');
      f.loop(
        'a',
        () => f.i32(0),
        'lim',
        2,
        () => {
          f.get('a').i32(8).mul().set('ao');
          f.get('C').get('o').add().get('ao').add();
          f.get('X').get('o').add().get('ao').add().vload();
          f.get('S').get('ao').add().vload();
          f.vsub().vstore();
        },
      );
      f.get('D').i32(1).op(0x71).op(0x04, 0x40); // odd D: the last coordinate
      f.get('D').i32(-1).add().i32(8).mul().set('ao');
      f.get('C').get('o').add().get('ao').add();
      f.get('X').get('o').add().get('ao').add().f64load();
      f.get('S').get('ao').add().f64load();
      f.op(0xa1).f64store();
      f.op(0x0b);
    },
  );
  return f;
}

/**
 * diagAcc(D, C, U, V, WP, RP, M): for j < M, the centred row at C + RP[j] (i32 byte offsets) with weight
 * WP[j]: U[a] += w·c_a, V[a] += (w·c_a)·c_a, rows in order (as the diagonal statistics kernel of
 * blocked.ts), lanes over two coordinates.
 */
function diagAccKernel(): Fn {
  const f = new Fn(['D', 'C0', 'U', 'V', 'WP0', 'RP', 'M']);
  for (const n of ['a', 'o', 'lim', 'j', 'C', 'WP']) f.local(n, I32);
  for (const n of ['w', 'c', 'wa']) f.local(n, V128);
  for (const n of ['ws', 'cs', 'was']) f.local(n, F64);
  f.loop(
    'j',
    () => f.i32(0),
    'M',
    1,
    () => {
      f.get('C0').get('RP').get('j').i32(4).mul().add().mem(0x28, 2, 0).add().set('C'); // i32.load
      f.get('WP0').get('j').i32(8).mul().add().set('WP');
      diagAccBody(f);
    },
  );
  return f;
}

/** One row of {@link diagAccKernel}: row at local C, weight at local WP. */
function diagAccBody(f: Fn): void {
  f.get('WP').splatLoad().set('w');
  f.get('WP').f64load().set('ws');
  f.get('D').i32(1).op(0x76).i32(1).op(0x74).set('lim'); // even part
  f.loop(
    'a',
    () => f.i32(0),
    'lim',
    2,
    () => {
      f.get('a').i32(8).mul().set('o');
      f.get('C').get('o').add().vload().set('c');
      f.get('w').get('c').vmul().set('wa');
      f.get('U').get('o').add().get('U').get('o').add().vload().get('wa').vadd().vstore();
      f.get('V').get('o').add().get('V').get('o').add().vload().get('wa').get('c').vmul().vadd().vstore();
    },
  );
  f.get('D').i32(1).op(0x71).op(0x04, 0x40); // odd D: the last coordinate
  f.get('D').i32(-1).add().i32(8).mul().set('o');
  f.get('C').get('o').add().f64load().set('cs');
  f.get('ws').get('cs').op(0xa2).set('was');
  f.get('U').get('o').add().get('U').get('o').add().f64load().get('was').op(0xa0).f64store();
  f.get('V').get('o').add().get('V').get('o').add().f64load().get('was').get('cs').op(0xa2).op(0xa0).f64store();
  f.op(0x0b);
}

interface Exports {
  diag(P: number, D: number, NB: number, X: number, MP: number, PP: number, LC: number, LP: number): void;
  full(K: number, D: number, NB: number, X: number, M: number, W: number, WSTRIDE: number, LC: number, LP: number, DIFF: number): void;
  outer4(D: number, C0: number, C1: number, C2: number, C3: number, V: number, WP: number): void;
  centre(N: number, X: number, S: number, C: number, D: number): void;
  diagAcc(D: number, C: number, U: number, V: number, WP: number, RP: number, M: number): void;
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
      compiled = process.env.EMSTREAM_SIMD === '0' || wasm === undefined ? null : new wasm.Module(moduleBytes([
              { name: 'diag', fn: diagKernel() },
              { name: 'full', fn: fullKernel() },
              { name: 'outer4', fn: outerKernel() },
              { name: 'centre', fn: centreKernel() },
              { name: 'diagAcc', fn: diagAccKernel() },
            ]));
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
  private layout = { x: 0, mp: 0, pp: 0, lc: 0, lp: 0, diff: 0, c: 0, s: 0, u: 0, v: 0, wp: 0, rp: 0, wl: 0, end: 0 };
  private i32 = new Int32Array(1);
  /** The block last copied to `x` (so the statistics reuse it). */
  private last: { data: ArrayLike<number> | null; start: number; nb: number } = { data: null, start: -1, nb: 0 };
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

  /** Whether these kernels serve a covariance type at dimension D (D > 16; not spherical). The statistics kernel serves the same types. */
  static serves(type: CovarianceType, d: number): boolean {
    return d > 16 && type !== 'spherical';
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    this.f64 = new Float64Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** The statistics' region from byte `at`: centred rows, shift, u (D), v (`vSize`), 4 weights. */
  private tail(at: number, D: number, vSize: number): { c: number; s: number; u: number; v: number; wp: number; rp: number; wl: number; end: number } {
    const c = at;
    const s = c + MAX_ROWS * D * 8;
    const u = s + D * 8;
    const v = u + D * 8;
    const wp = v + vSize * 8 + 8;
    const wl = wp + 32;
    const rp = wl + MAX_ROWS * 8;
    return { c, s, u, v, wp, rp, wl, end: rp + MAX_ROWS * 4 };
  }

  /** Copies rows start..start+nb−1 of `x` to the block area, padded with zero rows to a multiple of 4. */
  private copyBlock(x: ArrayLike<number>, start: number, nb: number): void {
    const D = this.D;
    const f = this.f64;
    const nbp = (nb + 3) & ~3;
    if (x instanceof Float64Array || x instanceof Float32Array) f.set(x.subarray(start * D, (start + nb) * D), 0);
    else for (let i = 0; i < nb * D; i++) f[i] = x[start * D + i];
    f.fill(0, nb * D, nbp * D);
    this.last = { data: x, start, nb };
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
    this.last = { data: null, start: -1, nb: 0 };
    const x = 0;
    const xBytes = MAX_ROWS * D * 8;
    if (type === 'diag') {
      const P = Math.ceil(K / 2);
      const mp = xBytes;
      const pp = mp + P * D * 16;
      const lcOff = pp + P * D * 16;
      const lp = lcOff + P * 16;
      const tail = this.tail(lp + MAX_ROWS * P * 16, D, D);
      this.ensure(tail.end);
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
      this.layout = { x, mp, pp, lc: lcOff, lp, diff: 0, ...tail };
    } else {
      const mOff = xBytes;
      const wOff = mOff + K * D * 8;
      const wCount = type === 'tied' ? D * D : K * D * D;
      const lcOff = wOff + wCount * 8;
      const lp = lcOff + K * 8;
      const diff = lp + MAX_ROWS * K * 8;
      const tail = this.tail(diff + 4 * D * 8, D, (D * (D + 1)) / 2);
      this.ensure(tail.end);
      const f = this.f64;
      f.set(means.subarray(0, K * D), mOff / 8);
      f.set(prec.subarray(0, wCount), wOff / 8);
      f.set(lc.subarray(0, K), lcOff / 8);
      this.layout = { x, mp: mOff, pp: wOff, lc: lcOff, lp, diff, ...tail };
    }
  }

  /**
   * The statistics of a block for `full` or `tied` (after {@link prepare} for that type): `fullStatsBlock`
   * / `tiedStatsBlock` of blocked.ts with the second-moment tiles in WebAssembly (bit-identical).
   */
  statsBlock(st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch): void {
    const { k: K, d: D, s0, s1, s2, shift } = st;
    const diag = this.type === 'diag';
    const tied = this.type === 'tied';
    const T = diag ? D : (D * (D + 1)) / 2;
    const { idx } = sc;
    const L = this.layout;
    if (this.last.data !== data || this.last.start !== start || this.last.nb !== nb) this.copyBlock(data, start, nb);
    const f = this.f64;
    // centre the block once: C = X − shift
    f.set(shift, L.s / 8);
    this.fns.centre(nb, L.x, L.s, L.c, D);
    const c = f.subarray(L.c / 8, L.c / 8 + nb * D);
    const u = f.subarray(L.u / 8, L.u / 8 + D);
    const v = f.subarray(L.v / 8, L.v / 8 + T);
    const w = f.subarray(L.wp / 8, L.wp / 8 + 4);
    const row = (i: number): number => L.c + i * D * 8;
    for (let k = 0; k < K; k++) {
      let m = 0;
      for (let i = 0; i < nb; i++) if (resp[i * K + k] >= SKIP_WEIGHT) idx[m++] = i;
      if (m === 0) continue;
      let t0 = 0;
      u.fill(0);
      if (diag) {
        v.fill(0);
        const wl = L.wl / 8;
        const rp = L.rp / 4;
        for (let j = 0; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          f[wl + j] = wk;
          this.i32[rp + j] = idx[j] * D * 8;
          t0 += wk;
        }
        this.fns.diagAcc(D, L.c, L.u, L.v, L.wl, L.rp, m);
        for (let a = 0; a < D; a++) s2[k * D + a] += v[a];
      } else if (tied) {
        for (let j = 0; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          const o = idx[j] * D;
          t0 += wk;
          for (let a = 0; a < D; a++) u[a] += wk * c[o + a];
        }
      } else {
        v.fill(0);
        let j = 0;
        for (; j + 4 <= m; j += 4) {
          const i0 = idx[j];
          const i1 = idx[j + 1];
          const i2 = idx[j + 2];
          const i3 = idx[j + 3];
          w[0] = resp[i0 * K + k];
          w[1] = resp[i1 * K + k];
          w[2] = resp[i2 * K + k];
          w[3] = resp[i3 * K + k];
          t0 += w[0];
          t0 += w[1];
          t0 += w[2];
          t0 += w[3];
          const o0 = i0 * D;
          const o1 = i1 * D;
          const o2 = i2 * D;
          const o3 = i3 * D;
          for (let a = 0; a < D; a++) {
            let t = u[a];
            t += w[0] * c[o0 + a];
            t += w[1] * c[o1 + a];
            t += w[2] * c[o2 + a];
            t += w[3] * c[o3 + a];
            u[a] = t;
          }
          this.fns.outer4(D, row(i0), row(i1), row(i2), row(i3), L.v, L.wp);
        }
        for (; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          const ci = c.subarray(idx[j] * D, idx[j] * D + D);
          t0 += wk;
          for (let a = 0; a < D; a++) u[a] += wk * ci[a];
          outer1(v, ci, wk, D);
        }
        for (let p = 0; p < T; p++) s2[k * T + p] += v[p];
      }
      s0[k] += t0;
      for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
    }
    if (tied) {
      v.fill(0);
      const wsum = (i: number): number => {
        let t = 0;
        for (let k = 0; k < K; k++) t += resp[i * K + k];
        return t;
      };
      let i = 0;
      for (; i + 4 <= nb; i += 4) {
        for (let q = 0; q < 4; q++) w[q] = wsum(i + q);
        this.fns.outer4(D, row(i), row(i + 1), row(i + 2), row(i + 3), L.v, L.wp);
      }
      for (; i < nb; i++) outer1(v, c.subarray(i * D, i * D + D), wsum(i), D);
      for (let p = 0; p < T; p++) s2[p] += v[p];
    }
  }

  /** `LP[i·K + k]` for the nb points of the block at row `start` of `x` (see `LogProbKernel`). */
  logProb(x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
    const { K, D, layout } = this;
    const f = this.f64;
    const nbp = (nb + 3) & ~3;
    this.copyBlock(x, start, nb);
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
