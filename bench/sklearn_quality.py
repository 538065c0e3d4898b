#!/usr/bin/env python3
"""scikit-learn's streaming baseline for `npm run bench -- quality`: GaussianMixture(warm_start=True)
refitted on each window, scored prequentially (window t labelled and scored by the model fitted on
windows up to t - 1).

    python3 bench/sklearn_quality.py --data FILE.f64 --windows W --size N --d D --k K --cov full --seed S
    python3 bench/sklearn_quality.py --manifest STREAMS.json   # many streams, one JSON line each

A manifest is a JSON list of {"name", "data", "windows", "size", "d", "k", "cov", "seed"} (the options above).

Data: W*N*D raw little-endian float64 values (window after window, point after point, row-major),
written by bench/quality.ts so both sides see identical streams.

The model is created once with warm_start=True (scikit-learn's documented way to continue a fit on new
data): the first fit initialises by k-means (n_init=1, random_state=seed), every later fit starts from
the previous parameters and runs EM on that window alone (default tol 1e-3, max_iter 100, reg_covar
1e-6). Its history is its initialisation only: no sufficient statistics are carried.

Prints ONE JSON line: {"sklearn": version, "labels": [[...] per window t >= 1], "logLikelihood": [...]}.
"""

import argparse
import json
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def run(data, windows, size, d, k, cov, seed):
    x = np.fromfile(data, dtype="<f8").reshape(windows, size, d)
    gm = GaussianMixture(n_components=k, covariance_type=cov, warm_start=True, random_state=seed)
    labels = []
    ll = []
    for t in range(windows):
        if t > 0:
            labels.append(gm.predict(x[t]).tolist())
            ll.append(float(gm.score(x[t])))
        try:
            gm.fit(x[t])
        except ValueError:
            # an ill-defined covariance on this window (scikit-learn raises): the model stays as it was
            if t == 0:
                raise
    return {"sklearn": sklearn.__version__, "labels": labels, "logLikelihood": ll}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--manifest")
    p.add_argument("--data")
    p.add_argument("--windows", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--d", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--cov", default="full")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    if a.manifest is not None:
        with open(a.manifest) as f:
            streams = json.load(f)
        for s in streams:
            out = run(s["data"], s["windows"], s["size"], s["d"], s["k"], s["cov"], s["seed"])
            out["name"] = s["name"]
            print(json.dumps(out), flush=True)
        return
    print(json.dumps(run(a.data, a.windows, a.size, a.d, a.k, a.cov, a.seed)))


if __name__ == "__main__":
    if threadpool_limits is not None:
        with threadpool_limits(limits=1):
            main()
    else:
        main()
