#!/usr/bin/env python3
"""scikit-learn GaussianMixture EM throughput, for comparison with emstream's TS benchmark.

    python3 bench/sklearn_bench.py --n 100000 --d 8 --k 8 --cov full --iters 20 --seed 1 \
        [--data FILE.f64] [--write-data FILE.f64] [--threads T] [--repeats R]

Needs: pip install scikit-learn numpy threadpoolctl   (tested: sklearn 1.9.1, numpy 2.4.6)

Data: with --data, reads N*D raw little-endian float64 values (row-major, point after point)
so both benchmarks fit identical data; otherwise generates K Gaussian blobs with
numpy.random.default_rng(seed) (centers ~ N(0, 5^2), unit spread); --write-data dumps the
generated data in the same raw format.

Timing ("subtraction" method): `fit` with max_iter=I and `fit` with max_iter=1 are timed with
the same data and seed (tol=0, n_init=1, init_params='random_from_data', random_state=seed);
both include the identical fixed overhead (input validation, random_from_data init = one
M-step on a one-hot responsibility matrix, final labelling E-step), so
    secondsPerIteration = (t_I - t_1) / (I - 1)
is the cost of one E-step + M-step.  Each fit is repeated --repeats times and the minimum is
used.  As a cross-check, `secondsPerIterationInstrumented` times the _e_step/_m_step calls
inside the I-iteration fit directly (excluding the final labelling E-step).

peakRssMb: resource.getrusage(RUSAGE_SELF).ru_maxrss at exit (whole process: interpreter +
numpy/scipy/sklearn imports + data + EM temporaries); baselineRssMb is the same value measured
right after imports, before data is created.  threads: BLAS thread pool size reported by
threadpoolctl (after --threads limiting, if given).

Prints ONE JSON line.
"""

import argparse
import json
import resource
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_info = threadpool_limits = None


def rss_mb():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024  # bytes vs KiB


def blas_threads():
    if threadpool_info is None:
        return None
    info = threadpool_info()
    blas = [p for p in info if p.get("user_api") == "blas"]
    return max((p["num_threads"] for p in blas), default=None)


class TimedGM(GaussianMixture):
    """Accumulates time spent in _e_step/_m_step; the last E-step (labels) is subtracted."""

    def _e_step(self, X, *a, **kw):
        t = time.perf_counter()
        r = super()._e_step(X, *a, **kw)
        dt = time.perf_counter() - t
        self._t_e.append(dt)
        return r

    def _m_step(self, X, *a, **kw):
        t = time.perf_counter()
        r = super()._m_step(X, *a, **kw)
        self._t_m.append(time.perf_counter() - t)
        return r


def make_data(n, d, k, seed):
    rng = np.random.default_rng(seed)
    centers = 5.0 * rng.standard_normal((k, d))
    labels = rng.integers(0, k, size=n)
    return centers[labels] + rng.standard_normal((n, d))


def fit_time(X, args, max_iter, cls=GaussianMixture):
    gm = cls(n_components=args.k, covariance_type=args.cov, max_iter=max_iter, tol=0.0,
             n_init=1, init_params="random_from_data", random_state=args.seed,
             reg_covar=1e-6)
    gm._t_e, gm._t_m = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        gm.fit(X)
        dt = time.perf_counter() - t
    assert gm.n_iter_ == max_iter
    return dt, gm


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--d", type=int, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--cov", choices=["full", "diag", "spherical", "tied"], default="full")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="raw little-endian float64 file with N*D values")
    ap.add_argument("--write-data", help="write the generated data to this raw f64 file")
    ap.add_argument("--threads", type=int, help="limit BLAS/OpenMP threads (threadpoolctl)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.iters < 2:
        ap.error("--iters must be >= 2 (per-iteration time is (t_I - t_1)/(I - 1))")

    limiter = None
    if args.threads is not None:
        if threadpool_limits is None:
            ap.error("--threads needs threadpoolctl")
        limiter = threadpool_limits(limits=args.threads)
    baseline = rss_mb()

    if args.data:
        X = np.fromfile(args.data, dtype="<f8")
        if X.size != args.n * args.d:
            ap.error(f"{args.data}: {X.size} values, expected n*d = {args.n * args.d}")
        X = X.reshape(args.n, args.d).astype(np.float64, copy=False)
    else:
        X = make_data(args.n, args.d, args.k, args.seed)
        if args.write_data:
            X.astype("<f8").tofile(args.write_data)

    fit_time(X, args, 2)  # warm-up (first-call overheads, BLAS thread start-up)
    t1 = min(fit_time(X, args, 1)[0] for _ in range(args.repeats))
    runs = [fit_time(X, args, args.iters, TimedGM) for _ in range(args.repeats)]
    tI = min(r[0] for r in runs)
    spi = (tI - t1) / (args.iters - 1)
    # instrumented: iteration = E-step + M-step; drop the final (labelling) E-step
    instr = min((sum(g._t_e[:-1]) + sum(g._t_m)) / args.iters for _, g in runs)

    out = {
        "secondsPerIteration": spi,
        "pointsIterationsPerSecond": args.n / spi if spi > 0 else None,
        "peakRssMb": round(rss_mb(), 1),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "threads": blas_threads(),
        "secondsPerIterationInstrumented": instr,
        "fitSecondsMaxIterI": tI,
        "fitSecondsMaxIter1": t1,
        "baselineRssMb": round(baseline, 1),
        "n": args.n, "d": args.d, "k": args.k, "cov": args.cov, "iters": args.iters,
        "seed": args.seed, "data": args.data or "generated",
        "finalMeanLogLikelihood": float(runs[0][1].score(X)),
    }
    print(json.dumps(out))
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
