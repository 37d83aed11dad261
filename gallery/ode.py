# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ODE parameters with honest uncertainty: NUTS, ADVI and a dropout network
#
# Article E of the gallery's sources: recover the rate $r$ and the initial value $y(0)$ of
# $dy/dt = -r\,y$ from 20 noisy observations. The PyMC model integrates the ODE with a
# differentiable RK4 solver written in PyTensor, so the same graph runs under NUTS (NumPyro)
# and under the JAX ADVI engine. The article's own method, a dropout network whose spread
# is read as uncertainty, is fitted next to them. Simulation-based calibration (SBC) then
# asks whether each method's intervals cover the truth as often as they claim.
#
# **Run time:** about 1 min at full size on a 2-core CPU (2026-12-03); `SMOKE = True` (below) runs it
# in about a minute with tiny fits that only show it works. The numbers this run measured
# are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks every loop (NUTS draws, ADVI steps, dropout training) for a quick check
SEED = 0

# %%
import os

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"
# One XLA host device per NUTS chain, so NumPyro runs the two chains in parallel on CPU;
# must be set before JAX starts (as the CLI does). A user's XLA_FLAGS wins.
from bnngallery.inference.devices import use_host_devices

use_host_devices(2)

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bnngallery import fit, predict
from bnngallery.baselines.dropout_ode import fit_dropout_ode
from bnngallery.data.ode import decay_solution, make_decay_data, make_lotka_volterra_data
from bnngallery.diagnostics.mcmc import max_rhat
from bnngallery.models import ode
from bnngallery.plots import plot_parameter_distributions, plot_path_density, plot_predictive_bands, plot_sbc_ranks
from bnngallery.runs.common import measured_table
from bnngallery.runs.ode import posterior_draws, predictive_paths, summarise_draws
from bnngallery.runs.settings import run_settings

S = run_settings("ode", smoke=SMOKE)  # the sizes of `bnngallery run ode`
DRAWS, TUNE, ADVI_STEPS, N_GRID = S["draws"], S["tune"], S["steps"], S["n_grid"]
DROPOUT = dict(hidden=S["dropout_hidden"], prime_steps=S["dropout_prime_steps"], fine_steps=S["dropout_fine_steps"])
# written by benchmarks/sbc_ode.py; the notebook runs from the repository root or from gallery/
SBC_RESULTS = next((p for p in (Path("benchmarks"), Path("../benchmarks")) if p.is_dir()), Path("benchmarks")) / \
    "results/sbc_ode.json"

# %% [markdown]
# ## Data
# $y_0 = 5$, $r = 0.4$, noise sd $0.2$, 20 points on $[0, 10]$; the generator returns the truth.

# %%
data = make_decay_data(random_state=SEED)
t_grid = np.linspace(0, 10, N_GRID)
truth_path = decay_solution(t_grid, y0=data.truth["y0"], r=data.truth["r"])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(t_grid, truth_path, "k--", lw=1, label="truth")
ax.scatter(data.t, data.y, s=14, color="k", label="data")
ax.set(xlabel="t", ylabel="y", title=f"truth {data.truth}")
ax.legend();

# %% [markdown]
# ## The solver
# `odeint_rk4(rhs, y0, t, theta)` takes any right-hand side `rhs(y, t, theta)` with a state
# vector and a parameter vector. Between observation times it takes as many RK4 steps as
# needed to keep every step below 0.15; against the closed form $y_0 e^{-rt}$ its relative
# error on the default grid is about $3 \times 10^{-7}$.

# %%
import pytensor

y_rk4 = pytensor.function([], ode.odeint_rk4(ode.decay_rhs, np.array([5.0]), data.t, np.array([0.4]),
                                             substeps=ode.substeps_for(data.t))[:, 0], mode="FAST_COMPILE")()
exact = decay_solution(data.t, y0=5.0, r=0.4)
print(f"max relative error of RK4 vs closed form: {np.max(np.abs(y_rk4 - exact) / exact):.2e}")

# %% [markdown]
# ## The model
# Weakly informative, positive priors: $y_0 \sim \mathrm{HalfNormal}(10)$,
# $r \sim \mathrm{HalfNormal}(1)$, $\sigma \sim \mathrm{HalfNormal}(1)$; the likelihood is
# Normal around the RK4 solution at the observation times.

# %%
model = ode.build_model(data.t, data.y)
model

# %% [markdown]
# ## NUTS (the gold standard) and mean-field ADVI on the same graph

# %%
nuts = fit(model, "nuts", draws=DRAWS, tune=TUNE, chains=2, random_seed=SEED, progressbar=False)
print(f"NUTS: {nuts.attrs['fit_seconds']:.1f} s ({nuts.attrs['compile_seconds']:.1f} s compile), "
      f"divergences {nuts.attrs['divergences']}, max R-hat {max_rhat(nuts):.3f}")
advi = fit(model, "advi", steps=ADVI_STEPS, random_seed=SEED, progressbar=False)
print(f"ADVI: {advi.attrs['fit_seconds']:.1f} s ({advi.attrs['compile_seconds']:.1f} s compile)")

# %% [markdown]
# ## The dropout network of article E
# One hidden layer of 2048 Mish units, dropout 0.1, Adamax: a priming phase (step 2e-3)
# pulls the output to a log-linear first guess, a fine phase (step 2e-5) fits the ODE
# solution to the data under a Huber loss. Dropout stays on: 200 forward passes give 200
# draws of $(r, y_0)$ and of $y(t)$.

# %%
drop = fit_dropout_ode(data.t, data.y, t_grid=t_grid, random_seed=SEED, **DROPOUT)
print(f"dropout: {drop.fit_seconds:.1f} s; first guess {drop.guess}")

# %% [markdown]
# ## Posterior against the truth
# Mean, sd and the central 90 % interval; `covered` says whether the interval holds the truth.

# %%
samples = {"NUTS": posterior_draws(nuts), "ADVI": posterior_draws(advi), "dropout": {"r": drop.r, "y0": drop.y0}}
print(f"{'method':8s} {'param':6s} {'mean':>8s} {'sd':>8s} {'5 %':>8s} {'95 %':>8s}  truth   covered")
for name, draws in samples.items():
    s = summarise_draws(draws, data.truth)
    for p in ("r", "y0", "sigma"):
        if f"{p}_mean" in s:
            print(f"{name:8s} {p:6s} {s[f'{p}_mean']:8.4f} {s[f'{p}_sd']:8.4f} {s[f'{p}_q05']:8.4f} "
                  f"{s[f'{p}_q95']:8.4f}  {data.truth[p]:<6}  {s['covered_90'][p]}")

# %%
plot_parameter_distributions(samples, truth=data.truth);

# %% [markdown]
# ## Predictive bands by quantiles
# Bands are quantiles of the sampled paths (50 % and 90 %), not mean $\pm$ sd: a quantile
# band cannot cross the horizontal asymptote $y = 0$ that every path approaches, while
# mean $-$ 2 sd can (article E's point).

# %% tags=["thumbnail"]
n_pred = min(1000, DRAWS * 2)
paths = {"NUTS": predictive_paths(nuts, t_grid, draws=n_pred, random_seed=SEED),
         "ADVI": predictive_paths(advi, t_grid, draws=min(n_pred, 1000), random_seed=SEED),
         "dropout": drop.y_paths}
for (name, p), color in zip(paths.items(), ("C0", "C1", "C2"), strict=False):
    plot_predictive_bands(t_grid, p, t=data.t, y=data.y, truth_path=truth_path, color=color,
                          title=f"{name}: median path and quantile bands")

# %% [markdown]
# ## Density of $y(t)$ across $t$

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4), constrained_layout=True)
for ax, (name, p) in zip(axes, paths.items(), strict=False):
    plot_path_density(t_grid, p, ax=ax, title=f"{name}: density of sampled y(t)")

# %% [markdown]
# ## Calibration: simulation-based calibration
# `benchmarks/sbc_ode.py` draws (y0, r, sigma) from the prior 200 times, simulates data
# through the model, fits each data set by NUTS and by mean-field ADVI, and records the rank
# of the truth among the posterior draws and whether the 50 % / 90 % intervals cover it.
# Calibrated ranks are uniform (grey: 99 % range of a uniform histogram). The notebook reads
# the committed result; rerun the script to refresh it.

# %%
if SBC_RESULTS.exists():
    sbc = json.loads(SBC_RESULTS.read_text())
    st = sbc["settings"]
    print(f"SBC: {st['sims']} data sets; NUTS {st['chains']} chains x ({st['tune']} + {st['draws']}), "
          f"ADVI {st['advi_steps']} steps")
    for m in ("nuts", "advi"):
        cov = {p: (sbc[m][p]["coverage_50"], sbc[m][p]["coverage_90"]) for p in ("y0", "r", "sigma")}
        covered = ", ".join(f"{p} {a:.2f}/{b:.2f}" for p, (a, b) in cov.items())
        print(f"{m.upper():5s} coverage (50 %, 90 %): {covered}")
    plot_sbc_ranks(sbc)
else:
    print("No SBC result yet: run python benchmarks/sbc_ode.py")

# %% [markdown]
# Mean-field ADVI under-covers: its Gaussian ignores the strong posterior correlation of
# $y_0$ and $r$ and is too narrow, so its 90 % intervals miss the truth far more than 10 % of
# the time (its rank ECDF bends out of the band: too many truths in the tails). The dropout
# network's spread is not a posterior at all: it is set by the dropout rate, not by the
# data's noise, and is several times narrower than NUTS here.
#
# ## A second system through the same solver: Lotka-Volterra
# Two states (prey, predators), four rates: a new right-hand side, the same `odeint_rk4`.

# %%
lv = make_lotka_volterra_data(20, random_state=SEED)
lv_truth = pytensor.function([], ode.odeint_rk4(
    ode.lotka_volterra_rhs, np.array([lv.truth["x0"], lv.truth["z0"]]), lv.t,
    np.array([lv.truth[p] for p in ode.LV_PARAMS]), substeps=ode.substeps_for(lv.t)), mode="FAST_COMPILE")()
lv_err = np.max(np.abs(lv_truth - lv.y_true)) / np.max(np.abs(lv.y_true))
print(f"RK4 (steps <= 0.15) vs SciPy (rtol 1e-10) at the true parameters: max error {lv_err:.1e} of the range")
lv_grid = np.linspace(0.1, float(lv.t.max()), N_GRID)

# %% [markdown]
# Fitting it is the same call as for the decay model. Mean-field ADVI lands near the truth
# but, as above, with sds far too small: in the full-size run (2026-11-26) gamma came out
# 1.432 +- 0.005 against 1.5 and x0 9.58 +- 0.05 against 10, many sds away. Read these sds as
# a lower bound; NUTS or full-rank ADVI is the check. In smoke mode the fit is skipped
# (compiling the two-state gradient takes most of a minute on a loaded 2-core machine).

# %%
fig, ax = plt.subplots(figsize=(8, 4))
if not SMOKE:
    lv_model = ode.build_lotka_volterra_model(lv.t, lv.y)
    lv_fit = fit(lv_model, "advi", steps=20_000, random_seed=SEED, progressbar=False)
    lv_post = lv_fit["posterior"]
    print("Lotka-Volterra, ADVI posterior mean +- sd (truth):")
    for p in (*ode.LV_PARAMS, "x0", "z0", "sigma"):
        print(f"  {p:6s} {float(lv_post[p].mean()):8.3f} +- {float(lv_post[p].std()):.3f}  ({lv.truth[p]})")
    lv_paths = predict(ode.build_lotka_volterra_model, lv_fit, lv_grid, draws=200)
    for j, (name, color) in enumerate((("prey", "C0"), ("predator", "C3"))):
        lo, med, hi = np.quantile(lv_paths[:, :, j], [0.05, 0.5, 0.95], axis=0)
        ax.fill_between(lv_grid, lo, hi, color=color, alpha=0.3)
        ax.plot(lv_grid, med, color=color, label=f"{name}: ADVI median, 90 % band")
for j, (name, color) in enumerate((("prey", "C0"), ("predator", "C3"))):
    ax.plot(lv.t, lv_truth[:, j], color=color, ls="--", lw=0.8, label=f"{name}: truth (RK4)")
    ax.scatter(lv.t, lv.y[:, j], color=color, s=12)
ax.set(xlabel="t", ylabel="population", title="Lotka-Volterra through the same RK4 solver")
ax.legend(fontsize=8);

# %% [markdown]
# ## What this run measured
# Posterior mean +- sd of the decay model's parameters (truth r = 0.4, y0 = 5), whether each
# method's 90 % interval holds the truth, and the fit times.

# %%
measured = {}
for name, draws in samples.items():
    s = summarise_draws(draws, data.truth)
    for p in ("r", "y0"):
        measured[f"{name}: {p} (90 % interval covers {data.truth[p]}?)"] = (
            f"{s[f'{p}_mean']:.3f} +- {s[f'{p}_sd']:.3f} ({'yes' if s['covered_90'][p] else 'no'})")
measured["fit seconds: NUTS / ADVI / dropout"] = (nuts.attrs["fit_seconds"], advi.attrs["fit_seconds"],
                                                  drop.fit_seconds)
measured["NUTS divergences, max R-hat"] = f"{nuts.attrs['divergences']}, {max_rhat(nuts):.3f}"
display(Markdown(measured_table(measured)))
