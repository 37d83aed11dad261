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
# # Which approximation to trust: every common BNN posterior approximation against NUTS
#
# What people choose between when they fit a Bayesian neural network is wider than ADVI or
# NUTS. `bnngallery.fit` runs each of them on the same PyMC model and returns the same kind
# of result, so `bnngallery.diagnostics.compare` can put them in one table against NUTS:
#
# | `method` | what it is |
# |---|---|
# | `advi`, `fullrank_advi` | Gaussian VI: independent, or one dense covariance |
# | `lowrank_advi` | Gaussian VI with a diagonal plus rank-10 covariance (NumPyro's `AutoLowRankMultivariateNormal`) |
# | `flow_advi` | an inverse autoregressive flow fitted by NumPyro's SVI: q can bend and skew |
# | `pathfinder` | multi-path Pathfinder (blackjax): Gaussians along L-BFGS paths, pooled by importance weights |
# | `laplace` | a Gaussian at the MAP with the exact Hessian there as its precision |
# | `ensemble` | a deep ensemble: five MAP fits from different starts, each one draw |
# | `sgld`, `sghmc` | cyclical, preconditioned stochastic-gradient Langevin / Hamiltonian MCMC, four chains |
# | `nuts` | the reference: NumPyro's NUTS on the full data |
#
# The moons and regression networks are small enough for a NUTS reference, so every method
# is scored in function space against it. The MNIST nets are not; their table (accuracy,
# NLL, calibration, out-of-distribution detection) comes from `benchmarks/approximations.py`.
#
# **Run time:** about 10 min at full size on a 2-core CPU (2026-12-04); `SMOKE = True` (below)
# runs it in about 3 min with tiny fits that only show it works. The numbers this run measured
# are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks every fit (steps, draws) for a quick check
SEED = 0

# %%
import json
import os
import warnings
from pathlib import Path

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"

import numpy as np
from IPython.display import Markdown, display

import bnngallery
from bnngallery.collapse import CollapseWarning
from bnngallery.data.regression import true_function
from bnngallery.diagnostics.compare import compare, to_markdown
from bnngallery.diagnostics.metrics import regression_predictive
from bnngallery.inference.laplace import LaplaceWarning
from bnngallery.plots import grid_2d, plot_band_grid, plot_uncertainty_grid
from bnngallery.predict import predict
from bnngallery.runs.common import measured_table
from bnngallery.runs.compare import comparison_spec, fit_spec


def run(name):
    """Fit every method of the model and compare them with NUTS."""
    spec = comparison_spec(name, smoke=SMOKE, random_seed=SEED, methods="all")
    failed = {}  # a method whose fit diverges is reported, not fatal
    with warnings.catch_warnings():
        if SMOKE:  # a smoke run's few hundred steps stop short of the MAP and some fits collapse;
            # the table shows them as they are
            warnings.simplefilter("ignore", LaplaceWarning)
            warnings.simplefilter("ignore", CollapseWarning)
        # PSIS tail fits on degenerate draws (Pathfinder's resampled repeats, Laplace's wild ones)
        # divide by zero or overflow inside arviz_stats; the table reports their k as it is
        warnings.filterwarnings("ignore", "(invalid value|overflow) encountered", RuntimeWarning, "arviz_stats")
        results = fit_spec(spec, random_seed=SEED, progressbar=False, log=lambda _: None, failures=failed)
        table = compare(results, builder=spec["builder"], X_test=spec["test"][0], y_test=spec["test"][1],
                        X_train=spec["train"][0], y_train=spec["train"][1], random_seed=SEED)
    table["notes"] += [f"{m} failed: {msg}" for m, msg in failed.items()]
    display(Markdown(to_markdown(table)))  # rendered, in JupyterLab and on a built page alike
    return spec, results, table


def row(table, method):
    """The table's row of ``method``, or an empty one if that fit failed."""
    return next((r for r in table["runs"] if r["method"] == method), {})


# %% [markdown]
# ## Two moons: the predictive surfaces side by side
# Every method's predictive uncertainty (the sd of P(y = 1) over its draws) on one colour
# scale, with its decision boundary. NUTS, last, is the posterior; the closer a panel looks
# to it, the better the approximation did where it matters: away from the data.

# %%
moons_spec, moons_fits, moons_table = run("moons")

# %% tags=["thumbnail"]
xx, yy, grid = grid_2d(3.0, 80)
surfaces = {k.removesuffix(" (jax)"): predict(moons_spec["builder"], r, grid) for k, r in moons_fits.items()}
plot_uncertainty_grid(xx, yy, surfaces, X=moons_spec["test"][0], y=moons_spec["test"][1]);

# %%
closest = min((r for r in moons_table["runs"] if r["method"] != "nuts"), key=lambda r: r["mean_abs_prob_diff"])
fullrank = row(moons_table, "fullrank_advi")
print(f"closest to NUTS: {closest['method']} (label agreement {closest['label_agreement']:.3f}, "
      f"mean |dP| {closest['mean_abs_prob_diff']:.4f}); full-rank ADVI: {fullrank['label_agreement']:.3f}, "
      f"{fullrank['mean_abs_prob_diff']:.4f}")

# %% [markdown]
# ## Regression: the bands
# Each method's 90 % predictive band over NUTS' (grey). Inside the training range (shaded)
# the noise dominates and every band looks alike; beyond it only the weights' posterior
# spreads the band, and the methods part.

# %%
reg_spec, reg_fits, reg_table = run("regression")

# %%
lo, hi = float(np.min(reg_spec["train"][0])) - 1.0, float(np.max(reg_spec["train"][0])) + 1.0
x_grid = np.linspace(lo, hi, 300)[:, None]
bands = {k.removesuffix(" (jax)"): regression_predictive(predict(reg_spec["builder"], r, x_grid),
                                                          r.posterior["sigma"].values.reshape(-1), random_seed=SEED)
         for k, r in reg_fits.items()}
plot_band_grid(x_grid, bands, reference="nuts", x_range=reg_spec["data"].x_range, truth=true_function);

# %% [markdown]
# ## Laplace over the last layer only
# `fit(model, "laplace", subset="last_layer")` keeps the hidden layers at the MAP and puts the
# Gaussian on the output layer's weights and bias alone. The output is linear in those, so
# sampling them is the linearised predictive that the full Laplace above lacks, and it is
# what makes Laplace possible on MNIST-size nets. Here it is against NUTS on both models,
# beside the full Laplace fit of the tables above.

# %%
def last_layer_laplace(spec, fits):
    """A last-layer Laplace fit of the comparison's model, and its row against NUTS."""
    size = {**spec["size"], "approximations": {"laplace": {"subset": "last_layer"}}}
    fit = fit_spec({**spec, "size": size, "methods": ("laplace",)}, random_seed=SEED, progressbar=False,
                   log=lambda _: None)["laplace (jax)"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "(invalid value|overflow) encountered", RuntimeWarning, "arviz_stats")
        table = compare({"laplace (jax)": fit, "nuts (jax)": fits["nuts (jax)"]}, builder=spec["builder"],
                        X_test=spec["test"][0], y_test=spec["test"][1], X_train=spec["train"][0],
                        y_train=spec["train"][1], random_seed=SEED)
    return fit, row(table, "laplace")


moons_ll, moons_ll_row = last_layer_laplace(moons_spec, moons_fits)
reg_ll, reg_ll_row = last_layer_laplace(reg_spec, reg_fits)
plot_uncertainty_grid(xx, yy, {"laplace (all weights)": surfaces["laplace"],
                               "laplace (last layer)": predict(moons_spec["builder"], moons_ll, grid),
                               "nuts": surfaces["nuts"]}, X=moons_spec["test"][0], y=moons_spec["test"][1]);
display(Markdown(measured_table({
    "moons: label agreement / mean |dP| with NUTS, Laplace all weights": (
        row(moons_table, "laplace").get("label_agreement", float("nan")),
        row(moons_table, "laplace").get("mean_abs_prob_diff", float("nan"))),
    "moons: the same, Laplace last layer": (moons_ll_row["label_agreement"], moons_ll_row["mean_abs_prob_diff"]),
    "regression: band overlap / width ratio, Laplace all weights": (
        row(reg_table, "laplace").get("band_overlap", float("nan")),
        row(reg_table, "laplace").get("band_width_ratio", float("nan"))),
    "regression: the same, Laplace last layer": (reg_ll_row["band_overlap"], reg_ll_row["band_width_ratio"]),
})))

# %% [markdown]
# ## MNIST: the methods that scale
# Laplace's dense Hessian over every weight and the full-data passes of Pathfinder and the
# flow do not fit a network of half a million weights on 60,000 images; mean-field and
# low-rank ADVI, Laplace over the last layer, the deep ensemble and SG-MCMC do. Full-size
# fits of the MLP (784-400-400-10, the hierarchical horseshoe at T = 0.125) and the CNN take
# minutes each, so this table is read from the benchmark's stored run
# (`python benchmarks/approximations.py mnist --net mlp|cnn`), not refitted here. Accuracy, NLL
# and ECE on the 10,000 test images; AUROC of the best uncertainty measure
# at telling Fashion-MNIST and Kuzushiji-MNIST apart from MNIST; the accuracy gained by
# referring the 5 % least certain images.

# %%
stored = Path(bnngallery.__file__).resolve().parents[1] / "benchmarks" / "results" / "approximations.json"
mnist_rows = json.loads(stored.read_text()).get("mnist", {}) if stored.exists() else {}
if mnist_rows:
    import importlib.util

    spec = importlib.util.spec_from_file_location("approximations_benchmark", stored.parents[1] / "approximations.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    display(Markdown(bench.mnist_table(mnist_rows)))
else:
    print(f"No stored MNIST rows at {stored}: run `python benchmarks/approximations.py mnist` from a checkout.")

# %% [markdown]
# ## Which to trust, and why
#
# The full-size run of this notebook's fits (`python benchmarks/approximations.py small`,
# 2026-12-04, 2-core CPU; `benchmarks/results/approximations.json`) is what the text below
# describes; a smoke run's numbers above only show that every method runs.
#
# **Function space is where they agree.** On moons every method but Laplace labels 99-100 %
# of the test points as NUTS does. They part in how uncertain they are away from the data,
# which is what a BNN is for: the mean absolute difference of P(y = 1) from NUTS' ranges from
# 0.003 (cyclical SGHMC) to 0.11 (Laplace).
#
# **Sampling several modes wins on networks.** A network's posterior has many symmetric,
# separated modes. Cyclical SGHMC restarts four chains four times and averages over all
# their visits; an ensemble's members each settle in a mode of their own. On moons they are
# the closest to NUTS (SGHMC 0.003, the ensemble 0.008, tied with full-rank ADVI, the best
# Gaussian), and on the regression net the ensemble's band overlaps NUTS' most (0.95), then
# SGHMC's (0.92). A Gaussian around one mode (the ADVI families, Laplace) cannot average over
# modes. The ensemble's members are point estimates, though: on the ODE model's three
# parameters its band is too narrow, and on the MNIST MLP it is the most accurate fit
# (98.65 %) but over-confident (NLL 0.060), where cyclical SGLD has the best NLL (0.048).
# On the MNIST CNN, ten members give the best NLL of all (0.024, ECE 0.006), and SGLD at the
# MLP's step is accurate but far too uncertain (NLL 0.25): an SG-MCMC step that suits one net
# can be too large for another, and the NLL is where it shows.
#
# **Laplace is the weakest here.** The weights' Gaussian at the MAP, pushed through a tanh
# network, is a poor predictive: sampling weights from the inverse Hessian throws the
# function far from the data where the curvature is small (on the regression net its band is
# dozens of times NUTS' width). Linearising the network around the MAP (Immer, Korzepa and
# Bauer 2021) is the known remedy; the last-layer Laplace above is that linearisation for
# the output layer, with the hidden layers held at the MAP.
#
# **What fails, says so.** A method whose fit diverges on a model is listed under the table as
# failed, with its reason, rather than stopping the comparison or returning nonsense: on the
# regression net the flow's default step diverged in the full-size run.
#
# **k-hat** (for the Gaussian fits, and Pathfinder's own importance weights) is above 0.7 for
# every approximation of a network: none of them is a posterior in the sense of importance
# sampling. What they are good for is the function they predict, which the agreement columns
# measure; on the ODE model's three parameters the Gaussians do pass.

# %%
reg_ref = row(reg_table, "nuts")
display(Markdown(measured_table({
    "moons: method closest to NUTS (mean |dP|)": f"{closest['method']} ({closest['mean_abs_prob_diff']:.4f})",
    "moons: label agreement with NUTS, closest / full-rank ADVI": (closest["label_agreement"],
                                                                   fullrank["label_agreement"]),
    "moons: Laplace mean |dP| / k-hat": (row(moons_table, "laplace")["mean_abs_prob_diff"],
                                         row(moons_table, "laplace")["khat"]),
    "regression: band overlap with NUTS, ensemble / mean-field ADVI / Laplace": tuple(
        row(reg_table, m).get("band_overlap", float("nan")) for m in ("ensemble", "advi", "laplace")),
    "regression: 90 % coverage NUTS": reg_ref["coverage_90"],
})))
