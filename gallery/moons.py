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
# # Two moons: a Bayesian neural network fitted by minibatch ADVI and checked with NUTS
#
# The classic PyMC deep-learning example (article A in the gallery's sources): a network
# with two hidden layers of 5 tanh units and Normal(0, 1) weights classifies the two-moons
# data. Minibatch ADVI fits it in about a second; NUTS, the gold standard, takes about a minute.
# What the Bayesian treatment buys is the **uncertainty surface**: the network knows where
# it does not know.
#
# **Run time:** about 2 min at full size on a 2-core CPU (2026-12-03); `SMOKE = True` (below) runs it
# in about a minute with tiny fits that only show it works. The numbers this run measured
# are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks every loop (ADVI steps, NUTS draws) for a quick check
SEED = 0

# %%
import json
import os

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bnngallery import fit, predict
from bnngallery.data import make_moons_data
from bnngallery.diagnostics.metrics import accuracy, agreement, binary_probs, log_predictive_density
from bnngallery.models import moons
from bnngallery.plots import grid_2d, plot_elbo, plot_method_comparison, plot_prob_scatter, plot_probability_surfaces
from bnngallery.runs.common import measured_table
from bnngallery.runs.settings import run_settings

S = run_settings("moons", smoke=SMOKE)  # the sizes of `bnngallery run moons` (`make demo`)
STEPS, DRAWS, TUNE, RESTARTS = S["steps"], S["draws"], S["tune"], S["approximations"]["fullrank_advi"]["restarts"]

# %% [markdown]
# ## Data
# 1000 points with noise 0.2, standardised, split 50/50 (the article's settings).

# %%
data = make_moons_data(random_state=SEED)
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(*data.X_train.T, c=np.where(data.y_train == 1, "C1", "C0"), s=10)
ax.set(title="Two moons, training half", xlabel="$x_1$", ylabel="$x_2$");

# %% [markdown]
# ## The model
# `build_model` returns an ordinary `pm.Model`. `S["model"]` is the article's network,
# `moons.ARTICLE`: two tanh layers of 5, no biases, raw inputs, ADVI started at the prior's
# width (the builder's defaults, for your own data, add biases and standardise the inputs).
# With `batch_size=50` the likelihood sees a random minibatch each step, scaled by
# `total_size` so the ELBO stays a full-data ELBO.

# %%
model = moons.build_model(data.X_train, data.y_train, **S["model"], batch_size=S["batch_size"], random_seed=SEED)
model

# %% [markdown]
# ## Minibatch ADVI
# The JAX backend compiles the model's log density and runs 1000 Adam steps per compiled call.

# %%
advi = fit(model, "advi", steps=STEPS, random_seed=SEED)
print(f"compile {advi.attrs['compile_seconds']:.1f} s, run {advi.attrs['run_seconds']:.2f} s for {STEPS} steps")
plot_elbo(advi);

# %% [markdown]
# ## Posterior predictive surfaces
# Predictions average the network over posterior draws. The mean surface is the classifier;
# the standard deviation is its uncertainty, highest along the decision boundary and away
# from the data.

# %%
xx, yy, grid = grid_2d(3.0, 100)
p_test_advi = predict(moons.build_model, advi, data.X_test)
p_grid_advi = predict(moons.build_model, advi, grid)
print("ADVI test accuracy:", accuracy(binary_probs(p_test_advi), data.y_test))
plot_probability_surfaces(xx, yy, p_grid_advi, X=data.X_test, y=data.y_test, method="ADVI");

# %% [markdown]
# ## Full-rank ADVI: correlations between weights
# Mean-field ADVI treats every weight as independent. A full-rank Gaussian (40 weights, so
# 820 covariance entries) can follow the strong correlations of a BNN posterior. Stochastic
# ELBO ascent can stall in a poor optimum (here one seed in six does), so `restarts=3` fits
# three times and keeps the highest final ELBO: the training objective, never a test score.

# %%
fullrank = fit(model, "fullrank_advi", steps=STEPS, random_seed=SEED, restarts=RESTARTS)
print("final ELBO of each restart:", [round(e, 1) for e in json.loads(fullrank.attrs["restart_elbos"])])
p_test_fr = predict(moons.build_model, fullrank, data.X_test)
p_grid_fr = predict(moons.build_model, fullrank, grid)
print("full-rank ADVI test accuracy:", accuracy(binary_probs(p_test_fr), data.y_test))

# %% [markdown]
# ## NUTS as the check
# NUTS needs the exact full-data log density, so the model is built without `batch_size`.
# The posterior of a BNN is symmetric and multimodal (hidden units can be permuted), so
# R-hat on individual weights is expected to be large: compare fits in **function space**.

# %%
nuts_model = moons.build_model(data.X_train, data.y_train, **S["model"], random_seed=SEED)
nuts = fit(nuts_model, "nuts", draws=DRAWS, tune=TUNE, chains=2, random_seed=SEED)
print("divergences:", nuts.attrs["divergences"], "| wall seconds:", round(nuts.attrs["fit_seconds"], 1))
p_test_nuts = predict(moons.build_model, nuts, data.X_test)
p_grid_nuts = predict(moons.build_model, nuts, grid)
print("NUTS test accuracy:", accuracy(binary_probs(p_test_nuts), data.y_test))

# %% [markdown]
# ## ADVI against NUTS
# Mean-field ADVI agrees with NUTS on the labels; its uncertainty band is narrower, the
# known price of a factorised Gaussian.

# %% tags=["thumbnail"]
rows = []
for name, p in {"ADVI": p_test_advi, "ADVI-FR": p_test_fr, "NUTS": p_test_nuts}.items():
    rows.append((name, accuracy(binary_probs(p), data.y_test), log_predictive_density(p, data.y_test)))
for name, acc, lpd in rows:
    print(f"{name:7s} accuracy {acc:.3f}  mean log predictive density {lpd:.3f}")
print("mean-field vs NUTS:", agreement(binary_probs(p_test_advi), binary_probs(p_test_nuts)))
print("full-rank vs NUTS: ", agreement(binary_probs(p_test_fr), binary_probs(p_test_nuts)))
plot_method_comparison(xx, yy, {"ADVI": p_grid_advi, "ADVI full-rank": p_grid_fr, "NUTS": p_grid_nuts},
                       X=data.X_test, y=data.y_test);

# %%
plot_prob_scatter(binary_probs(p_test_advi), binary_probs(p_test_nuts));

# %% [markdown]
# ## What this run measured

# %%
vs_nuts = [agreement(binary_probs(p), binary_probs(p_test_nuts)) for p in (p_test_advi, p_test_fr)]
display(Markdown(measured_table({
    "test accuracy: ADVI / full-rank ADVI / NUTS": [acc for _, acc, _ in rows],
    "mean log predictive density: ADVI / full-rank ADVI / NUTS": [lpd for _, _, lpd in rows],
    "label agreement with NUTS: ADVI / full-rank ADVI": [a["label_agreement"] for a in vs_nuts],
    "mean abs. probability difference to NUTS: ADVI / full-rank ADVI": [a["mean_abs_prob_diff"] for a in vs_nuts],
    "NUTS divergences": nuts.attrs["divergences"],
    "fit seconds: ADVI / full-rank ADVI / NUTS": [r.attrs["fit_seconds"] for r in (advi, fullrank, nuts)],
})))
