#!/usr/bin/env python3
"""scikit-learn's per-window cost for `npm run bench -- streaming`: GaussianMixture(warm_start=True)
refitted on each window of a stream (as a user would continue a model on new data), one BLAS thread.

    python3 bench/sklearn_streaming.py --data FILE.f64 --windows W --size N --d D --k K --cov diag --seed S

Data: W*N*D raw little-endian float64 values (window after window, row-major), written by
bench/streaming.ts so both sides fit identical windows.

The model is created once (k-means init, n_init=1, random_state=seed, default tol 1e-3, max_iter 100,
reg_covar 1e-6); every window is fitted (`fit`, warm from the previous parameters) and then labelled
(`predict`), which is what the streaming operator delivers per window. The first `--warmup` windows are
not timed.

Prints ONE JSON line: {"sklearn": version, "fitMs": median ms per window of fit, "fitPredictMs": median of
fit + predict, "meanIterations": mean n_iter_, "fitPredictCpuMs": mean CPU ms (process time) of fit + predict}.
"""

import argparse
import json
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def run(a):
    x = np.fromfile(a.data, dtype="<f8").reshape(a.windows, a.size, a.d)
    gm = GaussianMixture(n_components=a.k, covariance_type=a.cov, warm_start=True, random_state=a.seed)
    fit_ms = []
    both_ms = []
    iters = []
    cpu_ms = []
    for t in range(a.windows):
        c0 = time.process_time()
        t0 = time.perf_counter()
        gm.fit(x[t])
        t1 = time.perf_counter()
        gm.predict(x[t])
        t2 = time.perf_counter()
        c2 = time.process_time()
        if t >= a.warmup:
            fit_ms.append((t1 - t0) * 1e3)
            both_ms.append((t2 - t0) * 1e3)
            cpu_ms.append((c2 - c0) * 1e3)
            iters.append(gm.n_iter_)
    return {
        "sklearn": sklearn.__version__,
        "fitMs": float(np.median(fit_ms)),
        "fitPredictMs": float(np.median(both_ms)),
        "meanIterations": float(np.mean(iters)),
        "fitPredictCpuMs": float(np.mean(cpu_ms)),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--windows", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--d", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--cov", default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(json.dumps(run(a)))


if __name__ == "__main__":
    if threadpool_limits is not None:
        with threadpool_limits(limits=1):
            main()
    else:
        main()
