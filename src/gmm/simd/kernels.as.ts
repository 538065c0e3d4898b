/**
 * WebAssembly SIMD (f64x2) kernels of the E-step for D > 16, in AssemblyScript: compiled by `asc` at build
 * time (`npm run build`, and before the tests) into `kernels.wasm` beside `simd.js`, which loads it
 * (`SimdLogProb`). The JavaScript kernels of `blocked.ts` stay the reference and the fallback.
 *
 * Every pointer is a byte offset into the memory the caller gives (`env.memory`, imported); nothing is
 * allocated here. Lanes run over two components (`diag`) or two points (`full`/`tied`) or two adjacent
 * entries of a row (`outer4`), never over the terms of one sum, and each sum receives its terms in the
 * order of the JavaScript kernels: the results are bit-identical to them (tested in test/gmm/kernels.test.ts).
 * No fused multiply-add (none in WebAssembly SIMD), no reassociation (binaryen keeps IEEE order).
 *
 * Not TypeScript: `v128`, `f64x2`, `load<T>` are AssemblyScript builtins (tsc and eslint skip `*.as.ts`).
 */

/**
 * diag(P, D, NB, X, MP, PP, LC, LP): for component pairs p < P and points i < NB (a multiple of 4),
 * LP[i·2P + 2p + l] = LC[2p + l] − ½ Σ_a ((X[i·D + a] − MP[p][a][l]) · PP[p][a][l])², lanes l = 0, 1.
 * MP/PP hold each pair's values interleaved per coordinate.
 */
export function diag(P: i32, D: i32, NB: i32, X: usize, MP: usize, PP: usize, LC: usize, LP: usize): void {
  if (P <= 0 || D <= 0 || NB <= 0) return;
  tiles(P, D, NB, X, MP, PP, LP, D, LC, true);
}

/** q + Σ_{a0 ≤ a < a1} ((x_a − m_a)·w_a)², lanes over the pair's two components, terms in ascending a (as `diag`). */
// @ts-ignore: decorator
@inline
function span(x: usize, mb: usize, wb: usize, a0: i32, a1: i32, q: v128): v128 {
  for (let a = a0; a < a1; a++) {
    const am = <usize>a << 4;
    const y = f64x2.mul(f64x2.sub(v128.load64_splat(x + (<usize>a << 3)), v128.load(mb + am)), v128.load(wb + am));
    q = f64x2.add(q, f64x2.mul(y, y));
  }
  return q;
}

/**
 * diagPrune(P, D, NB, X, MP, PP, LC, LP, Q, BP, LIM, C, T): `diag` for the same arguments, except that a point's
 * pair of components is left unfinished once both of its log-densities are sure to lie more than T below the
 * point's best finished one: its two entries are then −∞. A log-density only falls as coordinates are added (every
 * term is a square), so a partial one bounds the final one from above. Steps: every pair over the first C
 * coordinates (tiles of four points, as `diag`); each point's pair holding its best partial value finished (four
 * points at a time; its best lane is M); then each other pair continued C coordinates at a time while one of its
 * lanes can lie within T of M. Every finished entry takes its terms in `diag`'s order: bit-identical to `diag`'s.
 * Returns the coordinates the other pairs took after the first C: one pair at a time they run at about half the
 * speed of `diag`'s tiles, so when components overlap (little is left unfinished) the caller runs `diag` instead.
 * Scratch: Q NB·P v128, BP NB i32, LIM NB f64. LC's unused lane (K odd) must be −∞.
 */
export function diagPrune(P: i32, D: i32, NB: i32, X: usize, MP: usize, PP: usize, LC: usize, LP: usize, Q: usize, BP: usize, LIM: usize, C: i32, T: f64): i32 {
  if (P <= 0 || D <= 0 || NB <= 0) return 0;
  const rowBytes = <usize>D << 3;
  const pairBytes = <usize>D << 4;
  const row = <usize>P << 4;
  const half = f64x2.splat(0.5);
  const c0 = C < D ? C : D;
  const scale = <f64>D / <f64>c0;
  // 1. every pair over [0, c0), four points at a time
  tiles(P, D, NB, X, MP, PP, Q, c0, LC, false);
  // 2. four points at a time: finish each point's best partial pair (four chains)
  let i = 0;
  do {
    const b0 = bestPair(P, LC, Q + <usize>i * row, scale);
    const b1 = bestPair(P, LC, Q + <usize>(i + 1) * row, scale);
    const b2 = bestPair(P, LC, Q + <usize>(i + 2) * row, scale);
    const b3 = bestPair(P, LC, Q + <usize>(i + 3) * row, scale);
    const x0 = X + <usize>i * rowBytes;
    const x1 = x0 + rowBytes;
    const x2 = x1 + rowBytes;
    const x3 = x2 + rowBytes;
    const m0 = MP + <usize>b0 * pairBytes;
    const m1 = MP + <usize>b1 * pairBytes;
    const m2 = MP + <usize>b2 * pairBytes;
    const m3 = MP + <usize>b3 * pairBytes;
    const w0 = PP + <usize>b0 * pairBytes;
    const w1 = PP + <usize>b1 * pairBytes;
    const w2 = PP + <usize>b2 * pairBytes;
    const w3 = PP + <usize>b3 * pairBytes;
    const qb = Q + <usize>i * row;
    let q0 = v128.load(qb + (<usize>b0 << 4));
    let q1 = v128.load(qb + row + (<usize>b1 << 4));
    let q2 = v128.load(qb + 2 * row + (<usize>b2 << 4));
    let q3 = v128.load(qb + 3 * row + (<usize>b3 << 4));
    for (let a = c0; a < D; a++) {
      const am = <usize>a << 4;
      const ax = <usize>a << 3;
      const y0 = f64x2.mul(f64x2.sub(v128.load64_splat(x0 + ax), v128.load(m0 + am)), v128.load(w0 + am));
      q0 = f64x2.add(q0, f64x2.mul(y0, y0));
      const y1 = f64x2.mul(f64x2.sub(v128.load64_splat(x1 + ax), v128.load(m1 + am)), v128.load(w1 + am));
      q1 = f64x2.add(q1, f64x2.mul(y1, y1));
      const y2 = f64x2.mul(f64x2.sub(v128.load64_splat(x2 + ax), v128.load(m2 + am)), v128.load(w2 + am));
      q2 = f64x2.add(q2, f64x2.mul(y2, y2));
      const y3 = f64x2.mul(f64x2.sub(v128.load64_splat(x3 + ax), v128.load(m3 + am)), v128.load(w3 + am));
      q3 = f64x2.add(q3, f64x2.mul(y3, y3));
    }
    const lpb = LP + <usize>i * row;
    finishBest(T, LC, lpb, BP, LIM, i, b0, q0);
    finishBest(T, LC, lpb + row, BP, LIM, i + 1, b1, q1);
    finishBest(T, LC, lpb + 2 * row, BP, LIM, i + 2, b2, q2);
    finishBest(T, LC, lpb + 3 * row, BP, LIM, i + 3, b3, q3);
    i += 4;
  } while (i < NB);
  // 3. each point's other pairs while they can matter
  let work = 0;
  for (let j = 0; j < NB; j++) work += rest(P, D, C, X + <usize>j * rowBytes, MP, PP, LC, Q + <usize>j * row, LP + <usize>j * row, load<i32>(BP + (<usize>j << 2)), load<f64>(LIM + (<usize>j << 3)), c0, T);
  return work;
}

/**
 * For every pair and point, four points per tile, the pair's terms over coordinates [0, a1): into OUT[i][p] (v128,
 * rows of P pairs) as they are (`finish` false: `diagPrune`'s partial sums over its first C), or as log-densities
 * LC[p] − ½·q (`finish` true: `diag`, a1 = D). a1 > 0.
 *
 * do-while loops in the hot paths (the bound checked at the bottom, one branch per iteration), as the hand-assembled
 * module had them: binaryen compiles `for` to a test at the top and a jump back, which measured 8–19 % slower here.
 * Inlined: each caller gets its own copy with `finish` folded; OUT's address is formed after the coordinate loop,
 * as `diag` had it (formed before, it cost `diag` 3–4 % at D = 384, measured).
 */
// @ts-ignore: decorator
@inline
function tiles(P: i32, D: i32, NB: i32, X: usize, MP: usize, PP: usize, OUT: usize, a1: i32, LC: usize, finish: bool): void {
  const rowBytes = <usize>D << 3;
  const pairBytes = <usize>D << 4;
  const row = <usize>P << 4;
  const half = f64x2.splat(0.5);
  let p = 0;
  do {
    const mpb = MP + <usize>p * pairBytes;
    const ppb = PP + <usize>p * pairBytes;
    const lc = v128.load(LC + (<usize>p << 4));
    let i = 0;
    do {
      const o0 = X + <usize>i * rowBytes;
      const o1 = o0 + rowBytes;
      const o2 = o1 + rowBytes;
      const o3 = o2 + rowBytes;
      let q0 = f64x2.splat(0);
      let q1 = f64x2.splat(0);
      let q2 = f64x2.splat(0);
      let q3 = f64x2.splat(0);
      let a = 0;
      do {
        const am = <usize>a << 4;
        const ax = <usize>a << 3;
        const m = v128.load(mpb + am);
        const w = v128.load(ppb + am);
        const y0 = f64x2.mul(f64x2.sub(v128.load64_splat(o0 + ax), m), w);
        q0 = f64x2.add(q0, f64x2.mul(y0, y0));
        const y1 = f64x2.mul(f64x2.sub(v128.load64_splat(o1 + ax), m), w);
        q1 = f64x2.add(q1, f64x2.mul(y1, y1));
        const y2 = f64x2.mul(f64x2.sub(v128.load64_splat(o2 + ax), m), w);
        q2 = f64x2.add(q2, f64x2.mul(y2, y2));
        const y3 = f64x2.mul(f64x2.sub(v128.load64_splat(o3 + ax), m), w);
        q3 = f64x2.add(q3, f64x2.mul(y3, y3));
        a++;
      } while (a < a1);
      if (finish) {
        q0 = f64x2.sub(lc, f64x2.mul(half, q0));
        q1 = f64x2.sub(lc, f64x2.mul(half, q1));
        q2 = f64x2.sub(lc, f64x2.mul(half, q2));
        q3 = f64x2.sub(lc, f64x2.mul(half, q3));
      }
      const qb = OUT + <usize>i * row + (<usize>p << 4);
      v128.store(qb, q0);
      v128.store(qb + row, q1);
      v128.store(qb + 2 * row, q2);
      v128.store(qb + 3 * row, q3);
      i += 4;
    } while (i < NB);
    p++;
  } while (p < P);
}

/** The pair likely to hold a point's best log-density: the best of LC − ½·scale·q over its partial sums q at QI (scale D/C: q extrapolated to all D coordinates). */
// @ts-ignore: decorator
@inline
function bestPair(P: i32, LC: usize, QI: usize, scale: f64): i32 {
  const half = f64x2.splat(0.5 * scale);
  let bv = -Infinity;
  let bp = 0;
  for (let r = 0; r < P; r++) {
    const v = f64x2.sub(v128.load(LC + (<usize>r << 4)), f64x2.mul(half, v128.load(QI + (<usize>r << 4))));
    const v0 = f64x2.extract_lane(v, 0);
    const v1 = f64x2.extract_lane(v, 1);
    if (v0 > bv) {
      bv = v0;
      bp = r;
    }
    if (v1 > bv) {
      bv = v1;
      bp = r;
    }
  }
  return bp;
}

/** Point i's best pair bp, finished with sums qb: its entries into its LP row LPI, bp into BP[i], M − T into LIM[i]. */
// @ts-ignore: decorator
@inline
function finishBest(T: f64, LC: usize, LPI: usize, BP: usize, LIM: usize, i: i32, bp: i32, qb: v128): void {
  const bo = <usize>bp << 4;
  const vb = f64x2.sub(v128.load(LC + bo), f64x2.mul(f64x2.splat(0.5), qb));
  v128.store(LPI + bo, vb);
  const v0 = f64x2.extract_lane(vb, 0);
  const v1 = f64x2.extract_lane(vb, 1);
  store<i32>(BP + (<usize>i << 2), bp);
  store<f64>(LIM + (<usize>i << 3), (v0 > v1 ? v0 : v1) - T);
}

/**
 * One point's other pairs (its best, bp, finished): each continued from its partial sums at QI, C coordinates at a
 * time, while one of its lanes can lie at or above `lim` (raised to M' − T by a pair that finishes above M' > M);
 * LPI its row (−∞ for the pairs left unfinished). Returns the coordinates computed.
 */
function rest(P: i32, D: i32, C: i32, x: usize, MP: usize, PP: usize, LC: usize, QI: usize, LPI: usize, bp: i32, lim: f64, c0: i32, T: f64): i32 {
  const half = f64x2.splat(0.5);
  const pairBytes = <usize>D << 4;
  let work = 0;
  for (let r = 0; r < P; r++) {
    if (r == bp) continue;
    const ro = <usize>r << 4;
    const lc = v128.load(LC + ro);
    const mb = MP + <usize>r * pairBytes;
    const wb = PP + <usize>r * pairBytes;
    let q = v128.load(QI + ro);
    let a = c0;
    while (true) {
      const v = f64x2.sub(lc, f64x2.mul(half, q));
      const v0 = f64x2.extract_lane(v, 0);
      const v1 = f64x2.extract_lane(v, 1);
      const top = v0 > v1 ? v0 : v1;
      if (a >= D) {
        v128.store(LPI + ro, v);
        // a pair above the first finished one raises the bar for the rest
        if (top - T > lim) lim = top - T;
        break;
      }
      if (top < lim) {
        v128.store(LPI + ro, f64x2.splat(-Infinity));
        break;
      }
      const e = a + C < D ? a + C : D;
      q = span(x, mb, wb, a, e, q);
      work += e - a;
      a = e;
    }
  }
  return work;
}

/**
 * full(K, D, NB, X, M, W, WSTRIDE, LC, LP, DIFF, QS): for components k < K and points i < NB (a multiple of 4),
 * ‖W_k (x_i − μ_k)‖² over the lower triangle ({@link rows4}: two rows per step, lanes over two points):
 * LP[i·K + k] = LC[k] − ½ Σ_j s_j². WSTRIDE: bytes between components' factors (0 for tied); DIFF: 4·D
 * scratch values, DIFF[4a + q] = x_q[a] − μ[a]; QS: 32 bytes of scratch.
 */
export function full(K: i32, D: i32, NB: i32, X: usize, M: usize, W: usize, WSTRIDE: i32, LC: usize, LP: usize, DIFF: usize, QS: usize): void {
  const rowBytes = <usize>D << 3;
  const kb = <usize>K << 3;
  for (let k = 0; k < K; k++) {
    const mb = M + <usize>k * rowBytes;
    const wb = W + <usize>k * <usize>WSTRIDE;
    const lc = load<f64>(LC + (<usize>k << 3));
    for (let i = 0; i < NB; i += 4) {
      const x0 = X + <usize>i * rowBytes;
      diff4(D, x0, x0 + rowBytes, x0 + 2 * rowBytes, x0 + 3 * rowBytes, mb, DIFF);
      v128.store(QS, f64x2.splat(0));
      v128.store(QS, f64x2.splat(0), 16);
      rows4(D, wb, DIFF, 0, D, QS);
      // LP[(i + q)·K + k] = lc − 0.5·q
      const lp = LP + ((<usize>i * <usize>K + <usize>k) << 3);
      store<f64>(lp, lc - 0.5 * load<f64>(QS));
      store<f64>(lp + kb, lc - 0.5 * load<f64>(QS, 8));
      store<f64>(lp + 2 * kb, lc - 0.5 * load<f64>(QS, 16));
      store<f64>(lp + 3 * kb, lc - 0.5 * load<f64>(QS, 24));
    }
  }
}

/** DIFF[4a + q] = x_q[a] − μ[a] for a < n: four points at X0…X3, the mean at MB. */
// @ts-ignore: decorator
@inline
function diff4(n: i32, X0: usize, X1: usize, X2: usize, X3: usize, MB: usize, DIFF: usize): void {
  for (let a = 0; a < n; a++) {
    const ao = <usize>a << 3;
    const m = load<f64>(MB + ao);
    const ad = DIFF + (<usize>a << 5);
    store<f64>(ad, load<f64>(X0 + ao) - m);
    store<f64>(ad, load<f64>(X1 + ao) - m, 8);
    store<f64>(ad, load<f64>(X2 + ao) - m, 16);
    store<f64>(ad, load<f64>(X3 + ao) - m, 24);
  }
}

/**
 * QS (two v128: points 0, 1 and 2, 3) += Σ_{j0 ≤ j < j1} s_j², s_j = Σ_{a ≤ j} W[j][a]·DIFF[a], lanes over points:
 * `full`'s rows, in pairs while two remain, then one; j0 even. Continuing a sum at an even row keeps `full`'s order.
 */
function rows4(D: i32, WB: usize, DIFF: usize, j0: i32, j1: i32, QS: usize): void {
  const rowBytes = <usize>D << 3;
  let q01 = v128.load(QS);
  let q23 = v128.load(QS, 16);
  let j = j0;
  for (; j < j1 - 1; j += 2) {
    const r0 = WB + <usize>j * rowBytes;
    const r1 = r0 + rowBytes;
    let s0a = f64x2.splat(0);
    let s0b = f64x2.splat(0);
    let s1a = f64x2.splat(0);
    let s1b = f64x2.splat(0);
    let a = 0;
    do {
      const w0 = v128.load64_splat(r0 + (<usize>a << 3));
      const w1 = v128.load64_splat(r1 + (<usize>a << 3));
      const ad = DIFF + (<usize>a << 5);
      const d01 = v128.load(ad);
      const d23 = v128.load(ad, 16);
      s0a = f64x2.add(s0a, f64x2.mul(w0, d01));
      s0b = f64x2.add(s0b, f64x2.mul(w0, d23));
      s1a = f64x2.add(s1a, f64x2.mul(w1, d01));
      s1b = f64x2.add(s1b, f64x2.mul(w1, d23));
      a++;
    } while (a <= j);
    const jn = j + 1;
    const w1 = v128.load64_splat(r1 + (<usize>jn << 3));
    const ad = DIFF + (<usize>jn << 5);
    s1a = f64x2.add(s1a, f64x2.mul(w1, v128.load(ad)));
    s1b = f64x2.add(s1b, f64x2.mul(w1, v128.load(ad, 16)));
    q01 = f64x2.add(q01, f64x2.mul(s0a, s0a));
    q01 = f64x2.add(q01, f64x2.mul(s1a, s1a));
    q23 = f64x2.add(q23, f64x2.mul(s0b, s0b));
    q23 = f64x2.add(q23, f64x2.mul(s1b, s1b));
  }
  if (j < j1) {
    const r0 = WB + <usize>j * rowBytes;
    let s0a = f64x2.splat(0);
    let s0b = f64x2.splat(0);
    for (let a = 0; a <= j; a++) {
      const w0 = v128.load64_splat(r0 + (<usize>a << 3));
      const ad = DIFF + (<usize>a << 5);
      s0a = f64x2.add(s0a, f64x2.mul(w0, v128.load(ad)));
      s0b = f64x2.add(s0b, f64x2.mul(w0, v128.load(ad, 16)));
    }
    q01 = f64x2.add(q01, f64x2.mul(s0a, s0a));
    q23 = f64x2.add(q23, f64x2.mul(s0b, s0b));
  }
  v128.store(QS, q01);
  v128.store(QS, q23, 16);
}

/**
 * fullPrune(K, D, NB, X, M, W, WSTRIDE, LC, LP, DIFF, Q, IDX, BEST, QS, R, T): `full` for the same arguments,
 * except that a (point, component) entry is left unfinished, −∞, when its log-density after the first R rows
 * (an upper bound of the final one: every further row adds a square) lies more than T below the point's best
 * finished one. R even. Steps: every component's first R rows for every point (tiles of four points); each
 * point's best partial component finished (points grouped by it, tiles of four); then every other entry within
 * T of its point's best finished. Each finished entry takes its terms in `full`'s order: bit-identical to it.
 * Returns the entries beside the points' best that had to be finished (the caller runs `full` instead while most
 * of them must: overlapping components). Scratch: Q NB·K f64, IDX NB + 4 i32, BEST NB i32, QS 32 bytes.
 */
export function fullPrune(K: i32, D: i32, NB: i32, X: usize, M: usize, W: usize, WSTRIDE: i32, LC: usize, LP: usize, DIFF: usize, Q: usize, IDX: usize, BEST: usize, QS: usize, R: i32, T: f64): i32 {
  const rowBytes = <usize>D << 3;
  const kb = <usize>K << 3;
  const r0 = R < D ? R : D & ~1;
  // 1. the first r0 rows of every (component, point)
  for (let k = 0; k < K; k++) {
    const mb = M + <usize>k * rowBytes;
    const wb = W + <usize>k * <usize>WSTRIDE;
    for (let i = 0; i < NB; i += 4) {
      const x0 = X + <usize>i * rowBytes;
      diff4(r0, x0, x0 + rowBytes, x0 + 2 * rowBytes, x0 + 3 * rowBytes, mb, DIFF);
      v128.store(QS, f64x2.splat(0));
      v128.store(QS, f64x2.splat(0), 16);
      rows4(D, wb, DIFF, 0, r0, QS);
      const q = Q + ((<usize>i * <usize>K + <usize>k) << 3);
      store<f64>(q, load<f64>(QS));
      store<f64>(q + kb, load<f64>(QS, 8));
      store<f64>(q + 2 * kb, load<f64>(QS, 16));
      store<f64>(q + 3 * kb, load<f64>(QS, 24));
    }
  }
  // 2. each point's likely best component, BEST[i] (its partial sum extrapolated to all D rows), finished (points
  // grouped by it)
  const scale = 0.5 * (<f64>D / <f64>r0);
  for (let i = 0; i < NB; i++) {
    let bv = -Infinity;
    let bk = 0;
    for (let k = 0; k < K; k++) {
      const v = load<f64>(LC + (<usize>k << 3)) - scale * load<f64>(Q + ((<usize>i * <usize>K + <usize>k) << 3));
      if (v > bv) {
        bv = v;
        bk = k;
      }
    }
    store<i32>(BEST + (<usize>i << 2), bk);
  }
  for (let k = 0; k < K; k++) {
    let m = 0;
    for (let i = 0; i < NB; i++) {
      if (load<i32>(BEST + (<usize>i << 2)) == k) {
        store<i32>(IDX + (<usize>m << 2), i);
        m++;
      }
    }
    finish(K, D, X, M, W, WSTRIDE, LC, LP, DIFF, Q, IDX, QS, k, m, r0);
  }
  // 3. every other entry within T of its point's best, finished; the rest −∞
  let survivors = 0;
  for (let k = 0; k < K; k++) {
    let m = 0;
    const lc = load<f64>(LC + (<usize>k << 3));
    for (let i = 0; i < NB; i++) {
      const bk = load<i32>(BEST + (<usize>i << 2));
      if (bk == k) continue;
      const best = load<f64>(LP + ((<usize>i * <usize>K + <usize>bk) << 3));
      const e = (<usize>i * <usize>K + <usize>k) << 3;
      if (lc - 0.5 * load<f64>(Q + e) < best - T) store<f64>(LP + e, -Infinity);
      else {
        store<i32>(IDX + (<usize>m << 2), i);
        m++;
      }
    }
    finish(K, D, X, M, W, WSTRIDE, LC, LP, DIFF, Q, IDX, QS, k, m, r0);
    survivors += m;
  }
  return survivors;
}

/** Finishes component k's entries for the m points listed at IDX (rows r0 … D − 1 from their partial sums), four at a time. */
function finish(K: i32, D: i32, X: usize, M: usize, W: usize, WSTRIDE: i32, LC: usize, LP: usize, DIFF: usize, Q: usize, IDX: usize, QS: usize, k: i32, m: i32, r0: i32): void {
  if (m == 0) return;
  const rowBytes = <usize>D << 3;
  const mb = M + <usize>k * rowBytes;
  const wb = W + <usize>k * <usize>WSTRIDE;
  const lc = load<f64>(LC + (<usize>k << 3));
  // pad the list to a multiple of four with its last point (computed twice, stored twice: the same value)
  const last = load<i32>(IDX + (<usize>(m - 1) << 2));
  for (let j = m; j < ((m + 3) & ~3); j++) store<i32>(IDX + (<usize>j << 2), last);
  for (let j = 0; j < m; j += 4) {
    const i0 = load<i32>(IDX + (<usize>j << 2));
    const i1 = load<i32>(IDX + (<usize>(j + 1) << 2));
    const i2 = load<i32>(IDX + (<usize>(j + 2) << 2));
    const i3 = load<i32>(IDX + (<usize>(j + 3) << 2));
    diff4(D, X + <usize>i0 * rowBytes, X + <usize>i1 * rowBytes, X + <usize>i2 * rowBytes, X + <usize>i3 * rowBytes, mb, DIFF);
    const e0 = (<usize>i0 * <usize>K + <usize>k) << 3;
    const e1 = (<usize>i1 * <usize>K + <usize>k) << 3;
    const e2 = (<usize>i2 * <usize>K + <usize>k) << 3;
    const e3 = (<usize>i3 * <usize>K + <usize>k) << 3;
    store<f64>(QS, load<f64>(Q + e0));
    store<f64>(QS, load<f64>(Q + e1), 8);
    store<f64>(QS, load<f64>(Q + e2), 16);
    store<f64>(QS, load<f64>(Q + e3), 24);
    rows4(D, wb, DIFF, r0, D, QS);
    store<f64>(LP + e0, lc - 0.5 * load<f64>(QS));
    store<f64>(LP + e1, lc - 0.5 * load<f64>(QS, 8));
    store<f64>(LP + e2, lc - 0.5 * load<f64>(QS, 16));
    store<f64>(LP + e3, lc - 0.5 * load<f64>(QS, 24));
  }
}

/**
 * outer4(D, C0, C1, C2, C3, V, WP): V (packed lower triangle, D(D+1)/2 values) += Σ_q w_q c_q c_qᵀ for
 * four centred rows c_q at Cq and weights WP[0..3]; lanes over two adjacent entries of a row, each entry
 * receiving its four terms in point order (as `outer4` in blocked.ts).
 */
export function outer4(D: i32, C0: usize, C1: usize, C2: usize, C3: usize, V: usize, WP: usize): void {
  let p0: usize = 0;
  for (let a = 0; a < D; a++) {
    // y_q = w_q · c_q[a]
    const ca = <usize>a << 3;
    const y0 = load<f64>(WP) * load<f64>(C0 + ca);
    const y1 = load<f64>(WP, 8) * load<f64>(C1 + ca);
    const y2 = load<f64>(WP, 16) * load<f64>(C2 + ca);
    const y3 = load<f64>(WP, 24) * load<f64>(C3 + ca);
    const x0 = f64x2.splat(y0);
    const x1 = f64x2.splat(y1);
    const x2 = f64x2.splat(y2);
    const x3 = f64x2.splat(y3);
    const vb = V + (p0 << 3);
    // entries b = 0 … a in pairs while b + 1 ≤ a
    const lim = ((a + 1) >> 1) << 1;
    if (lim > 0) {
      let b = 0;
      do {
        const cb = <usize>b << 3;
        let t = v128.load(vb + cb);
        t = f64x2.add(t, f64x2.mul(x0, v128.load(C0 + cb)));
        t = f64x2.add(t, f64x2.mul(x1, v128.load(C1 + cb)));
        t = f64x2.add(t, f64x2.mul(x2, v128.load(C2 + cb)));
        t = f64x2.add(t, f64x2.mul(x3, v128.load(C3 + cb)));
        v128.store(vb + cb, t);
        b += 2;
      } while (b < lim);
    }
    // the last entry b = a when a + 1 is odd (a even)
    if ((a & 1) == 0) {
      let u = load<f64>(vb + ca);
      u = u + y0 * load<f64>(C0 + ca);
      u = u + y1 * load<f64>(C1 + ca);
      u = u + y2 * load<f64>(C2 + ca);
      u = u + y3 * load<f64>(C3 + ca);
      store<f64>(vb + ca, u);
    }
    p0 += <usize>a + 1;
  }
}

/** centre(N, X, S, C, D): C[i·D + a] = X[i·D + a] − S[a] for N rows (the centring of the statistics). */
export function centre(N: i32, X: usize, S: usize, C: usize, D: i32): void {
  const lim = (D >> 1) << 1;
  for (let i = 0; i < N; i++) {
    const o = (<usize>i * <usize>D) << 3;
    for (let a = 0; a < lim; a += 2) {
      const ao = <usize>a << 3;
      v128.store(C + o + ao, f64x2.sub(v128.load(X + o + ao), v128.load(S + ao)));
    }
    if (D & 1) {
      const ao = <usize>(D - 1) << 3;
      store<f64>(C + o + ao, load<f64>(X + o + ao) - load<f64>(S + ao));
    }
  }
}

/**
 * diagAcc(D, X, S, U, V, WP, RP, M): for j < M, the row at X + RP[j] (i32 byte offsets) centred on the shift S,
 * c = x − S, with weight WP[j]: U[a] += w·c_a, V[a] += (w·c_a)·c_a, rows in order (as the diagonal statistics
 * kernel of blocked.ts), lanes over two coordinates. Each row is centred as it is read (no centred copy).
 */
export function diagAcc(D: i32, X0: usize, S: usize, U: usize, V: usize, WP0: usize, RP: usize, M: i32): void {
  const lim = (D >> 1) << 1;
  for (let j = 0; j < M; j++) {
    const x = X0 + <usize>load<i32>(RP + (<usize>j << 2));
    const wp = WP0 + (<usize>j << 3);
    const w = v128.load64_splat(wp);
    const ws = load<f64>(wp);
    for (let a = 0; a < lim; a += 2) {
      const o = <usize>a << 3;
      const ca = f64x2.sub(v128.load(x + o), v128.load(S + o));
      const wa = f64x2.mul(w, ca);
      v128.store(U + o, f64x2.add(v128.load(U + o), wa));
      v128.store(V + o, f64x2.add(v128.load(V + o), f64x2.mul(wa, ca)));
    }
    if (D & 1) {
      const o = <usize>(D - 1) << 3;
      const cs = load<f64>(x + o) - load<f64>(S + o);
      const was = ws * cs;
      store<f64>(U + o, load<f64>(U + o) + was);
      store<f64>(V + o, load<f64>(V + o) + was * cs);
    }
  }
}

/**
 * Row j of chol from its entry k on (the entries before k written, dj = Σ of their squares): the entries k … j − 1,
 * the diagonal, the zeros right of it. Returns 0, or 1 as chol.
 */
@inline
function cholRow(D: i32, A: usize, L: usize, LT: usize, j: i32, k: i32, dj: f64): i32 {
  const rb = <usize>D << 3;
  const rj = L + <usize>j * rb;
  while (k < j) {
    if (k + 1 < j) {
      let acc = f64x2.splat(0);
      const col = <usize>k << 3;
      for (let i = 0; i < k; i++) acc = f64x2.add(acc, f64x2.mul(v128.load(LT + <usize>i * rb + col), v128.load64_splat(rj + (<usize>i << 3))));
      // entry k
      const x0 = load<f64>(A + <usize>j * rb + col);
      const y0 = load<f64>(A + <usize>k * rb + (<usize>j << 3));
      const v0 = x0 == y0 ? x0 : 0.5 * x0 + 0.5 * y0;
      if (!isFinite<f64>(v0)) return 1;
      const lk = L + <usize>k * rb;
      const s0 = (v0 - f64x2.extract_lane(acc, 0)) / load<f64>(lk + col);
      store<f64>(rj + col, s0);
      store<f64>(LT + <usize>k * rb + (<usize>j << 3), s0);
      dj += s0 * s0;
      // entry k + 1: its last term, i = k
      const col1 = col + 8;
      const lk1 = lk + rb;
      const x1 = load<f64>(A + <usize>j * rb + col1);
      const y1 = load<f64>(A + <usize>(k + 1) * rb + (<usize>j << 3));
      const v1 = x1 == y1 ? x1 : 0.5 * x1 + 0.5 * y1;
      if (!isFinite<f64>(v1)) return 1;
      const t1 = f64x2.extract_lane(acc, 1) + load<f64>(lk1 + col) * s0;
      const s1 = (v1 - t1) / load<f64>(lk1 + col1);
      store<f64>(rj + col1, s1);
      store<f64>(LT + <usize>(k + 1) * rb + (<usize>j << 3), s1);
      dj += s1 * s1;
      k += 2;
    } else {
      const col = <usize>k << 3;
      let s: f64 = 0;
      for (let i = 0; i < k; i++) s += load<f64>(LT + <usize>i * rb + col) * load<f64>(rj + (<usize>i << 3));
      const x = load<f64>(A + <usize>j * rb + col);
      const y = load<f64>(A + <usize>k * rb + (<usize>j << 3));
      const v = x == y ? x : 0.5 * x + 0.5 * y;
      if (!isFinite<f64>(v)) return 1;
      s = (v - s) / load<f64>(L + <usize>k * rb + col);
      store<f64>(rj + col, s);
      store<f64>(LT + <usize>k * rb + (<usize>j << 3), s);
      dj += s * s;
      k++;
    }
  }
  const diag = load<f64>(A + <usize>j * rb + (<usize>j << 3));
  if (!isFinite<f64>(diag)) return 1;
  const p = diag - dj;
  if (!(p > 0) || !isFinite<f64>(p)) return 1;
  const r = Math.sqrt(p);
  store<f64>(rj + (<usize>j << 3), r);
  store<f64>(LT + <usize>j * rb + (<usize>j << 3), r);
  for (let c = j + 1; c < D; c++) store<f64>(rj + (<usize>c << 3), 0);
  return 0;
}

/**
 * Entry k of row j of chol given its sum t = Σ_{i<k} l_ki·l_ji: l_jk (written to L and LT), or NaN when the
 * entry of A is not finite.
 */
@inline
function cholEntry(A: usize, L: usize, LT: usize, rb: usize, j: i32, k: i32, t: f64): f64 {
  const col = <usize>k << 3;
  const x = load<f64>(A + <usize>j * rb + col);
  const y = load<f64>(A + <usize>k * rb + (<usize>j << 3));
  const v = x == y ? x : 0.5 * x + 0.5 * y;
  if (!isFinite<f64>(v)) return NaN;
  const s = (v - t) / load<f64>(L + <usize>k * rb + col);
  store<f64>(L + <usize>j * rb + col, s);
  store<f64>(LT + <usize>k * rb + (<usize>j << 3), s);
  return s;
}

/**
 * chol(D, A, L, LT): the Cholesky factor of the D×D matrix at A (row-major; each pair of mirrored entries
 * averaged when they differ), row by row, as `cholesky` in linalg.ts: L (row-major, upper triangle zeroed) and
 * LT its transpose (row-major, only its upper triangle written). Returns 0, or 1 when A is not positive definite
 * or holds a non-finite value (L is then partly written).
 *
 * Lanes over two entries k, k+1 of a row: both sums Σ_{i<k} l_ki·l_ji and Σ_{i<k} l_(k+1)i·l_ji take their terms
 * in ascending i (the pair of l_ki, l_(k+1)i is contiguous in LT), then the second its last term l_(k+1)k·l_jk:
 * every sum in the order of the JavaScript loop, so the factor is bit-identical to it. Rows go four at a time
 * (below): D = 64 in 12 µs, not 21.
 */
export function chol(D: i32, A: usize, L: usize, LT: usize): i32 {
  const rb = <usize>D << 3;
  let j = 0;
  // Four rows at a time: their entries left of the block are independent of each other, so four chains of
  // dependent additions and divisions run at once where one row waits on each (the latency of a row, not the
  // arithmetic, bounds a lone row). Every sum takes its terms in the order of the one-row loop.
  for (; j + 3 < D; j += 4) {
    const r0 = L + <usize>j * rb;
    const r1 = r0 + rb;
    const r2 = r1 + rb;
    const r3 = r2 + rb;
    let d0: f64 = 0;
    let d1: f64 = 0;
    let d2: f64 = 0;
    let d3: f64 = 0;
    let k = 0;
    while (k + 1 < j) {
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      let a2 = f64x2.splat(0);
      let a3 = f64x2.splat(0);
      const col = <usize>k << 3;
      for (let i = 0; i < k; i++) {
        const lt = v128.load(LT + <usize>i * rb + col);
        const o = <usize>i << 3;
        a0 = f64x2.add(a0, f64x2.mul(lt, v128.load64_splat(r0 + o)));
        a1 = f64x2.add(a1, f64x2.mul(lt, v128.load64_splat(r1 + o)));
        a2 = f64x2.add(a2, f64x2.mul(lt, v128.load64_splat(r2 + o)));
        a3 = f64x2.add(a3, f64x2.mul(lt, v128.load64_splat(r3 + o)));
      }
      // entry k of the four rows, then entry k + 1 with its last term i = k
      const s0 = cholEntry(A, L, LT, rb, j, k, f64x2.extract_lane(a0, 0));
      const s1 = cholEntry(A, L, LT, rb, j + 1, k, f64x2.extract_lane(a1, 0));
      const s2 = cholEntry(A, L, LT, rb, j + 2, k, f64x2.extract_lane(a2, 0));
      const s3 = cholEntry(A, L, LT, rb, j + 3, k, f64x2.extract_lane(a3, 0));
      if (isNaN(s0) || isNaN(s1) || isNaN(s2) || isNaN(s3)) return 1;
      d0 += s0 * s0;
      d1 += s1 * s1;
      d2 += s2 * s2;
      d3 += s3 * s3;
      const lk = load<f64>(L + <usize>(k + 1) * rb + col);
      const t0 = cholEntry(A, L, LT, rb, j, k + 1, f64x2.extract_lane(a0, 1) + lk * s0);
      const t1 = cholEntry(A, L, LT, rb, j + 1, k + 1, f64x2.extract_lane(a1, 1) + lk * s1);
      const t2 = cholEntry(A, L, LT, rb, j + 2, k + 1, f64x2.extract_lane(a2, 1) + lk * s2);
      const t3 = cholEntry(A, L, LT, rb, j + 3, k + 1, f64x2.extract_lane(a3, 1) + lk * s3);
      if (isNaN(t0) || isNaN(t1) || isNaN(t2) || isNaN(t3)) return 1;
      d0 += t0 * t0;
      d1 += t1 * t1;
      d2 += t2 * t2;
      d3 += t3 * t3;
      k += 2;
    }
    // then each row on its own: the entry left of the block when j is odd, the block's triangle, the diagonal
    if (cholRow(D, A, L, LT, j, k, d0) != 0) return 1;
    if (cholRow(D, A, L, LT, j + 1, k, d1) != 0) return 1;
    if (cholRow(D, A, L, LT, j + 2, k, d2) != 0) return 1;
    if (cholRow(D, A, L, LT, j + 3, k, d3) != 0) return 1;
  }
  for (; j < D; j++) if (cholRow(D, A, L, LT, j, 0, 0) != 0) return 1;
  return 0;
}

/** Row i of invLower after its terms p < from are subtracted: the terms from … i − 1, the division, the diagonal, the zeros. */
@inline
function invRow(D: i32, L: usize, OUT: usize, i: i32, from: i32): void {
  const rb = <usize>D << 3;
  const ri = OUT + <usize>i * rb;
  const li = L + <usize>i * rb;
  for (let p = from; p < i; p++) {
    const a = load<f64>(li + (<usize>p << 3));
    const av = f64x2.splat(a);
    const rp = OUT + <usize>p * rb;
    let j = 0;
    while (j + 1 <= p) {
      const o = <usize>j << 3;
      v128.store(ri + o, f64x2.sub(v128.load(ri + o), f64x2.mul(av, v128.load(rp + o))));
      j += 2;
    }
    if (j == p) {
      const o = <usize>j << 3;
      store<f64>(ri + o, load<f64>(ri + o) - a * load<f64>(rp + o));
    }
  }
  const lii = load<f64>(li + (<usize>i << 3));
  const dv = f64x2.splat(lii);
  let j = 0;
  while (j + 1 < i) {
    const o = <usize>j << 3;
    v128.store(ri + o, f64x2.div(v128.load(ri + o), dv));
    j += 2;
  }
  if (j < i) {
    const o = <usize>j << 3;
    store<f64>(ri + o, load<f64>(ri + o) / lii);
  }
  store<f64>(ri + (<usize>i << 3), 1 / lii);
  for (let c = i + 1; c < D; c++) store<f64>(ri + (<usize>c << 3), 0);
}

/**
 * invLower(D, L, OUT): OUT = L⁻¹ for a lower-triangular L (D×D row-major, positive diagonal), row by row as
 * `invertLower` in linalg.ts: x_ij = (δ_ij − Σ_{p=j}^{i−1} l_ip·x_pj) / l_ii, each sum over p ascending. Lanes over
 * two entries j, j+1 of a row (each its own sum, in the same order): bit-identical to the JavaScript loop. Rows
 * go two at a time (below).
 */
export function invLower(D: i32, L: usize, OUT: usize): void {
  const rb = <usize>D << 3;
  let i = 0;
  // Two rows at a time: their terms p < i read the same rows of OUT (loaded once for both), then row i is
  // finished and row i + 1 takes its last term p = i from it. Each entry's terms in the one-row order.
  for (; i + 1 < D; i += 2) {
    const r0 = OUT + <usize>i * rb;
    const r1 = r0 + rb;
    for (let j = 0; j <= i; j++) {
      store<f64>(r0 + (<usize>j << 3), 0);
      store<f64>(r1 + (<usize>j << 3), 0);
    }
    const l0 = L + <usize>i * rb;
    const l1 = l0 + rb;
    for (let p = 0; p < i; p++) {
      const a0 = load<f64>(l0 + (<usize>p << 3));
      const a1 = load<f64>(l1 + (<usize>p << 3));
      const v0 = f64x2.splat(a0);
      const v1 = f64x2.splat(a1);
      const rp = OUT + <usize>p * rb;
      let j = 0;
      while (j + 1 <= p) {
        const o = <usize>j << 3;
        const x = v128.load(rp + o);
        v128.store(r0 + o, f64x2.sub(v128.load(r0 + o), f64x2.mul(v0, x)));
        v128.store(r1 + o, f64x2.sub(v128.load(r1 + o), f64x2.mul(v1, x)));
        j += 2;
      }
      if (j == p) {
        const o = <usize>j << 3;
        const x = load<f64>(rp + o);
        store<f64>(r0 + o, load<f64>(r0 + o) - a0 * x);
        store<f64>(r1 + o, load<f64>(r1 + o) - a1 * x);
      }
    }
    invRow(D, L, OUT, i, i);
    invRow(D, L, OUT, i + 1, i);
  }
  if (i < D) {
    const ri = OUT + <usize>i * rb;
    for (let j = 0; j < i; j++) store<f64>(ri + (<usize>j << 3), 0);
    invRow(D, L, OUT, i, 0);
  }
}
