"""Simulation-based calibration (SBC) of NUTS and mean-field ADVI on the ODE decay model.

For each of ``n_sims`` data sets, parameters (y0, r, sigma) are drawn from the model's
prior and data are simulated through the model itself (the same RK4 graph, on the default
grid of 20 times over [0, 10]); each method then fits the simulated data and we record

- the rank of the true value among the posterior draws (thinned to ``n_rank`` draws): for
  a calibrated method the ranks are uniform (Talts et al. 2018);
- whether the central 50 % and 90 % posterior intervals cover the truth: for a calibrated
  method they do so 50 % and 90 % of the time.

Both methods work on the model's own log density, jaxified once with the data as inputs
(:func:`bnngallery.inference.jaxify.logp_graph`), so nothing recompiles between data sets:

- NUTS is NumPyro's kernel (target acceptance 0.9, diagonal mass matrix adapted in
  warm-up, as ``pm.sample(nuts_sampler="numpyro")`` runs it), compiled once with the data
  as an argument, chains vmapped;
- ADVI is the JAX engine's objective and optimiser (mean-field Gaussian on the
  unconstrained space, Adam with cosine decay, 1 Monte Carlo sample per step, start at the
  model's initial point with sd ``init_sd``), vmapped over all data sets at once. The
  benchmark checks it against ``bnngallery.fit(model, "advi")`` on the first data set and
  records both (``advi.engine_check``; full size only).

Run: ``python benchmarks/sbc_ode.py [--smoke] [--sims N] [--out PATH]``; writes
``benchmarks/results/sbc_ode.json``.
"""

from __future__ import annotations

import os

# NumPyro runs chains in parallel only with one XLA host device per chain; this must
# happen before JAX starts its backend. A user's XLA_FLAGS wins.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bnngallery.inference.precision import precision_scope

PARAMS = ("y0", "r", "sigma")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "sbc_ode.json"

#: Sizes: "full" is the benchmark, "smoke" checks the plumbing in seconds.
SIZES = {
    "full": {
        "sims": 200,
        "tune": 1000,
        "draws": 1000,
        "chains": 2,
        "advi_steps": 20_000,
        "advi_draws": 1000,
        "n_rank": 99,
    },
    "smoke": {"sims": 4, "tune": 100, "draws": 100, "chains": 2, "advi_steps": 500, "advi_draws": 200, "n_rank": 19},
}


def simulate(n_sims: int, *, random_seed: int = 0):
    """Prior draws of (y0, r, sigma) and data simulated from the model; returns (times, truths, ys)."""
    import pymc as pm

    from bnngallery.data.ode import make_decay_data
    from bnngallery.models.ode import build_model

    t = make_decay_data().t
    model = build_model(t, np.zeros_like(t))
    with model:
        prior = pm.sample_prior_predictive(draws=n_sims, random_seed=random_seed, var_names=[*PARAMS, "y_obs"])
    truths = {p: prior.prior[p].values.reshape(-1) for p in PARAMS}
    ys = prior.prior_predictive["y_obs"].values.reshape(n_sims, -1)
    return t, truths, ys


def _interval_flags(draws: np.ndarray, truth: float) -> dict[str, bool]:
    out = {}
    for level in (50, 90):
        lo, hi = np.quantile(draws, [(1 - level / 100) / 2, 1 - (1 - level / 100) / 2])
        out[f"covered_{level}"] = bool(lo <= truth <= hi)
    return out


def _rank(draws: np.ndarray, truth: float, n_rank: int) -> int:
    idx = np.linspace(0, len(draws) - 1, n_rank).round().astype(int)  # thin against autocorrelation
    return int(np.sum(draws[idx] < truth))


class _Problem:
    """The model's log density and constraining map as JAX functions of (params, times, y)."""

    def __init__(self, t):
        import jax

        from bnngallery.inference.jaxify import constrain_graph, logp_graph
        from bnngallery.models.ode import build_model

        self.model = build_model(t, np.zeros_like(t))
        lg = logp_graph(self.model)
        cg = constrain_graph(self.model, list(PARAMS))
        assert lg.param_names == cg.param_names and all(s == () for s in lg.param_shapes)
        self.param_names = lg.param_names
        self.dim = len(lg.param_names)
        self.t = np.asarray(t)
        ix, iy = lg.data_names.index("X"), lg.data_names.index("y")
        cix = cg.data_names.index("X") if "X" in cg.data_names else None

        def logp(z, y):
            data = list(lg.data_values)
            data[ix], data[iy] = self.t, y
            return lg.fn(*[z[i] for i in range(self.dim)], *data)[0]

        def constrain(z):
            data = list(cg.data_values)
            if cix is not None:
                data[cix] = self.t
            return dict(zip(cg.output_names, cg.fn(*[z[i] for i in range(self.dim)], *data), strict=True))

        self.logp = logp
        self.constrain = jax.jit(jax.vmap(constrain))
        ip = self.model.initial_point()
        self.z0 = np.array([float(ip[n]) for n in self.param_names])


def run_nuts(
    problem: _Problem, ys: np.ndarray, *, tune: int, draws: int, chains: int, random_seed: int, progress=None
) -> list[dict]:
    """NumPyro's NUTS kernel on every simulated data set, compiled once for all of them.

    ``numpyro.infer.MCMC`` re-traces its warm-up for new data even with ``jit_model_args``
    (measured: ~15 s per data set whatever the number of draws), so the kernel is driven
    directly: one jitted function of (keys, y) runs warm-up and sampling for all chains
    (vmapped), and each data set is one call of it.
    """
    import jax
    import jax.numpy as jnp
    from numpyro.infer.hmc import hmc

    init_kernel, sample_kernel = hmc(potential_fn_gen=lambda y: lambda z: -problem.logp(z, y), algo="NUTS")
    z0 = jnp.asarray(problem.z0)

    def one_chain(key, y):
        state = init_kernel(z0, num_warmup=tune, target_accept_prob=0.9, model_args=(y,), rng_key=key)

        def body(st, _):
            st = sample_kernel(st, model_args=(y,))
            return st, (st.z, st.diverging)

        _, (zs, div) = jax.lax.scan(body, state, None, length=tune + draws)
        return zs[tune:], div[tune:]

    run = jax.jit(jax.vmap(one_chain, in_axes=(0, None)))
    out = []
    key = jax.random.PRNGKey(random_seed)
    for i, y in enumerate(ys):
        t0 = time.perf_counter()
        z, div = run(jax.random.split(jax.random.fold_in(key, i), chains), jnp.asarray(y))
        z = np.asarray(z)  # (chains, draws, dim)
        post = problem.constrain(z.reshape(-1, problem.dim))
        out.append(
            {
                "post": {p: np.asarray(post[p]) for p in PARAMS},
                "by_chain": {p: np.asarray(post[p]).reshape(chains, draws) for p in PARAMS},
                "divergences": int(np.asarray(div).sum()),
                "seconds": time.perf_counter() - t0,
            }
        )
        if progress:
            progress(i)
    return out


def run_advi(
    problem: _Problem,
    ys: np.ndarray,
    *,
    steps: int,
    draws: int,
    random_seed: int,
    learning_rate: float = 0.01,
    init_sd: float = 0.1,
) -> tuple[list[dict], float]:
    """Mean-field ADVI (the JAX engine's objective and optimiser) on all data sets at once."""
    import jax
    import jax.numpy as jnp
    import optax

    D = problem.dim
    log_2pi_e = float(np.log(2 * np.pi) + 1.0)
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, decay_steps=steps, alpha=0.01))

    def neg_elbo(vp, key, y):
        sd = jax.nn.softplus(vp["rho"])
        z = vp["mu"] + jax.random.normal(key, (D,)) * sd
        return -(problem.logp(z, y) + jnp.sum(jnp.log(sd)) + 0.5 * D * log_2pi_e)

    def fit_one(key, y):
        vp = {"mu": jnp.asarray(problem.z0), "rho": jnp.full(D, float(np.log(np.expm1(init_sd))))}

        def step(carry, k):
            vp, st = carry
            loss, g = jax.value_and_grad(neg_elbo)(vp, k, y)
            upd, st = optimizer.update(g, st, vp)
            return (optax.apply_updates(vp, upd), st), loss

        (vp, _), loss = jax.lax.scan(step, (vp, optimizer.init(vp)), jax.random.split(key, steps))
        return vp, loss

    keys = jax.random.split(jax.random.PRNGKey(random_seed), len(ys))
    t0 = time.perf_counter()
    vps, losses = jax.jit(jax.vmap(fit_one))(keys, jnp.asarray(ys))
    jax.block_until_ready(vps)
    seconds = time.perf_counter() - t0
    out = []
    for i in range(len(ys)):
        mu, sd = np.asarray(vps["mu"][i]), np.asarray(jax.nn.softplus(vps["rho"][i]))
        eps = np.asarray(jax.random.normal(jax.random.fold_in(keys[i], 1), (draws, D)))
        post = problem.constrain(mu + eps * sd)
        out.append(
            {
                "post": {p: np.asarray(post[p]) for p in PARAMS},
                "final_loss": float(losses[i, -100:].mean()),
                "finite": bool(np.isfinite(mu).all() and np.isfinite(sd).all()),
            }
        )
    return out, seconds


def engine_check(ys0: np.ndarray, t, advi_first: dict, *, steps: int, random_seed: int) -> dict:
    """Posterior means/sds of the engine's ADVI (``bnngallery.fit``) vs this script's ADVI on data set 0."""
    from bnngallery import fit
    from bnngallery.models.ode import build_model

    res = fit(build_model(t, ys0), "advi", steps=steps, init_sd=0.1, random_seed=random_seed, progressbar=False)
    out = {}
    for p in PARAMS:
        eng = res["posterior"][p].values.ravel()
        mine = advi_first["post"][p]
        out[p] = {
            "engine_mean": float(eng.mean()),
            "sbc_mean": float(mine.mean()),
            "engine_sd": float(eng.std()),
            "sbc_sd": float(mine.std()),
        }
    return out


def summarise(fits: list[dict], truths: dict, n_rank: int) -> dict:
    """Ranks, interval coverage and its binomial standard error, per parameter."""
    n = len(fits)
    out = {}
    for p in PARAMS:
        ranks, c50, c90 = [], [], []
        for i, f in enumerate(fits):
            d = f["post"][p]
            ranks.append(_rank(d, float(truths[p][i]), n_rank))
            flags = _interval_flags(d, float(truths[p][i]))
            c50.append(flags["covered_50"])
            c90.append(flags["covered_90"])
        ranks = np.asarray(ranks)
        # chi-square of the rank histogram in 10 bins against uniform
        hist = np.histogram(ranks, bins=10, range=(0, n_rank + 1))[0]
        expected = n / 10
        out[p] = {
            "ranks": ranks.tolist(),
            "coverage_50": float(np.mean(c50)),
            "coverage_90": float(np.mean(c90)),
            "coverage_50_se": float(np.sqrt(0.25 / n)),
            "coverage_90_se": float(np.sqrt(0.09 / n)),
            "rank_hist_10": hist.tolist(),
            "rank_chi2_9df": float(np.sum((hist - expected) ** 2 / expected)),
        }
    out["coverage_90_mean"] = float(np.mean([out[p]["coverage_90"] for p in PARAMS]))
    out["coverage_50_mean"] = float(np.mean([out[p]["coverage_50"] for p in PARAMS]))
    return out


def _max_rhat(by_chain: dict) -> float:
    import arviz_stats
    import xarray as xr

    ds = xr.Dataset({p: (("chain", "draw"), v) for p, v in by_chain.items()})
    r = arviz_stats.rhat(ds)
    return float(max(float(r[p]) for p in by_chain))


@precision_scope("float64")  # NumPyro's NUTS and the ADVI loop on the model's float64 graph
def run_sbc(
    *,
    smoke: bool = False,
    sims: int | None = None,
    tune: int | None = None,
    draws: int | None = None,
    advi_steps: int | None = None,
    methods=("nuts", "advi"),
    random_seed: int = 0,
    out: str | Path = DEFAULT_OUT,
    log=print,
) -> dict:
    """Run the SBC benchmark and write its JSON; returns the same dict.

    Parameters
    ----------
    smoke : bool
        A few data sets and short runs: checks the plumbing in seconds.
    sims, tune, draws, advi_steps : int, optional
        Override the size's number of data sets, NUTS warm-up/draws per chain, ADVI steps.
    methods : sequence of {"nuts", "advi"}
        Which methods to calibrate.
    random_seed : int
        Seeds the prior draws, the simulated noise and both methods.
    out : path-like
        Where to write the JSON.
    """
    import jax

    from bnngallery.files import write_json
    from bnngallery.provenance import machine_description, software_versions

    size = dict(SIZES["smoke" if smoke else "full"])
    for k, v in {"sims": sims, "tune": tune, "draws": draws, "advi_steps": advi_steps}.items():
        if v is not None:
            size[k] = int(v)
    bad = set(methods) - {"nuts", "advi"}
    if bad:
        raise ValueError(f"methods must be drawn from ('nuts', 'advi'); got {sorted(bad)}.")
    t_all = time.perf_counter()
    t, truths, ys = simulate(size["sims"], random_seed=random_seed)
    problem = _Problem(t)
    result = {
        "benchmark": "sbc_ode",
        "model": "ode",
        "settings": {
            **size,
            "smoke": smoke,
            "random_seed": random_seed,
            "n_times": int(len(t)),
            "t_max": float(t.max()),
            "priors": {"y0": "HalfNormal(10)", "r": "HalfNormal(1)", "sigma": "HalfNormal(1)"},
        },
        "machine": f"{machine_description()}, {jax.local_device_count()} XLA devices",
        "software": software_versions(),
        "truth": {p: truths[p].tolist() for p in PARAMS},
    }
    if "nuts" in methods:
        log(f"[sbc] NUTS on {size['sims']} data sets, {size['chains']} chains x ({size['tune']} + {size['draws']})")
        t0 = time.perf_counter()
        fits = run_nuts(
            problem,
            ys,
            tune=size["tune"],
            draws=size["draws"],
            chains=size["chains"],
            random_seed=random_seed,
            progress=lambda i: log(f"[sbc]   NUTS {i + 1}/{size['sims']}") if (i + 1) % 10 == 0 else None,
        )
        summary = summarise(fits, truths, size["n_rank"])
        rhats = [_max_rhat(f["by_chain"]) for f in fits]
        summary.update(
            {
                "seconds": time.perf_counter() - t0,
                "seconds_per_fit_median": float(np.median([f["seconds"] for f in fits[1:]] or [fits[0]["seconds"]])),
                "divergences_total": int(sum(f["divergences"] for f in fits)),
                "fits_with_divergences": int(sum(f["divergences"] > 0 for f in fits)),
                "max_rhat_max": float(np.max(rhats)),
                "fits_with_rhat_above_1_01": int(np.sum(np.asarray(rhats) > 1.01)),
            }
        )
        result["nuts"] = summary
        log(
            f"[sbc] NUTS coverage 50 % / 90 %: {summary['coverage_50_mean']:.3f} / {summary['coverage_90_mean']:.3f}"
            f" ({summary['seconds']:.0f} s)"
        )
    if "advi" in methods:
        log(f"[sbc] ADVI (mean-field) on {size['sims']} data sets, {size['advi_steps']} steps each, vmapped")
        fits, seconds = run_advi(
            problem, ys, steps=size["advi_steps"], draws=size["advi_draws"], random_seed=random_seed
        )
        summary = summarise(fits, truths, size["n_rank"])
        summary.update({"seconds": seconds, "non_finite_fits": int(sum(not f["finite"] for f in fits))})
        if not smoke:  # one more compile; the smoke run checks the plumbing only
            summary["engine_check"] = engine_check(ys[0], t, fits[0], steps=size["advi_steps"], random_seed=random_seed)
        result["advi"] = summary
        log(
            f"[sbc] ADVI coverage 50 % / 90 %: {summary['coverage_50_mean']:.3f} / {summary['coverage_90_mean']:.3f}"
            f" ({seconds:.0f} s)"
        )
    result["seconds_total"] = time.perf_counter() - t_all
    write_json(result, out)
    log(f"[sbc] wrote {out}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 data sets, short runs")
    parser.add_argument("--sims", type=int, default=None, help="number of simulated data sets (full: 200)")
    parser.add_argument("--tune", type=int, default=None, help="NUTS warm-up per chain (full: 1000)")
    parser.add_argument("--draws", type=int, default=None, help="NUTS draws per chain (full: 1000)")
    parser.add_argument("--advi-steps", type=int, default=None, help="ADVI steps (full: 20000)")
    parser.add_argument("--methods", nargs="+", default=["nuts", "advi"], choices=["nuts", "advi"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    run_sbc(
        smoke=args.smoke,
        sims=args.sims,
        tune=args.tune,
        draws=args.draws,
        advi_steps=args.advi_steps,
        methods=tuple(args.methods),
        random_seed=args.seed,
        out=args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
