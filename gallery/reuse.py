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
# # Bring your own data: the builders on data they were not written for
#
# The gallery's builders are meant for *your* data, not only the two moons and MNIST. This
# notebook fits five public data sets that ship with scikit-learn (no download) with the
# builders' **defaults** and `fit`'s defaults (minibatch mean-field ADVI), and checks each fit
# against NUTS on the same model where NUTS is practical, and against scikit-learn's best
# non-Bayesian baseline (logistic or ridge regression, gradient boosting, an RBF SVM, an MLP):
#
# | data set | builder | what makes it hard for a network written for the moons or MNIST |
# |---|---|---|
# | circles | `moons.build_model` | symmetric about the origin: a net without biases cannot separate it |
# | breast cancer | `moons.build_model` | 30 features on scales from 0.001 to 1000 |
# | wine | `mnist_mlp.build_model` | 3 classes, 13 features, 89 training rows |
# | colour digits | `cnn.build_model` | 8x8 images in 3 channels (not 28x28 grey) |
# | Friedman #1 | `regression.build_model` | 10 features, 5 of them noise, a known true function |
#
# The only choice made per data set is the network's size (as a user would make it); every
# other setting is a default. After each fit, `fit` checks that the fit predicts its training
# data better than a constant would and warns if not (the *collapse check*); the end of the
# notebook shows what that warning looks like.
#
# **Time**: about 12 minutes at full size on a 2-core CPU (most of it NUTS on Friedman), about
# two minutes with `SMOKE = True`. The same fits, on eight data sets, are `python benchmarks/reuse.py`,
# whose table is in the README.
#
# **Run time:** about 7 min at full size on a 2-core CPU (2026-12-03); `SMOKE = True` (below) runs it
# in about a minute with tiny fits that only show it works. The numbers this run measured
# are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks every loop (ADVI steps, NUTS draws) for a quick check
SEED = 0

# %%
import os
import warnings

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bnngallery import fit, predict
from bnngallery.collapse import CollapseWarning
from bnngallery.data.sklearn_sets import friedman_function, load_reuse_set
from bnngallery.diagnostics.uncertainty import predictive_entropy
from bnngallery.models import moons
from bnngallery.plots import grid_2d, plot_confusion, plot_image_grid, plot_method_comparison
from bnngallery.runs.common import measured_table
from bnngallery.runs.reuse import fit_reuse, table_frame
from bnngallery.runs.settings import run_settings

S = run_settings("reuse", smoke=SMOKE)  # the sizes of `python benchmarks/reuse.py`
NAMES = ["circles", "breast-cancer", "wine", "digits-rgb", "friedman"]
N_PRED = 20 if SMOKE else 200  # posterior draws per prediction below

# %% [markdown]
# ## The recipe
# Each builder takes arrays and returns an ordinary `pm.Model`; `fit` and `predict` do the
# rest. For a binary problem of your own, with nothing but defaults:
#
# ```python
# from bnngallery import fit, predict
# from bnngallery.models import moons
#
# model = moons.build_model(X_train, y_train, batch_size=100)   # biases on, inputs standardised
# result = fit(model)                                            # minibatch ADVI, checked for collapse
# p = predict(moons.build_model, result, X_test)                 # (draws, n) probabilities of class 1
# ```
#
# `fit_reuse` below does exactly that for each data set, plus NUTS and the baselines.

# %%
rows, results, splits = {}, {}, {}
for name in NAMES:
    row, res, data = fit_reuse(name, smoke=SMOKE, random_seed=SEED, progressbar=True)
    rows[name], results[name], splits[name] = row, res, data
    nuts = f", NUTS {row['nuts_seconds']:.0f} s" if "nuts_seconds" in row else ""
    print(f"{name}: ADVI {row['advi_seconds']:.0f} s{nuts}")

# %% [markdown]
# ## The table
# Classifiers: test accuracy (and log predictive density) of ADVI, NUTS and the best
# scikit-learn model; the target is ADVI within 2 accuracy points of NUTS (of the best
# baseline where NUTS was not run: the CNN). Regression: RMSE, and the 90 % band's coverage
# of the held-out points and of the known true function. "collapsed" is the check's verdict.

# %%
table = table_frame(rows.values())
table

# %% [markdown]
# ## Circles: the uncertainty a biased network draws
# The predictive mean of P(y = 1) and its sd over the input plane, ADVI and NUTS. Both put
# a ring-shaped boundary between the circles; the sd shows where each fit is unsure of
# P(y = 1), which should be along the boundary and away from the data.

# %% tags=["thumbnail"]
data = splits["circles"]
xx, yy, grid = grid_2d(lim=1.6, n=80)
grids = {m.upper(): predict(moons.build_model, res, grid, draws=N_PRED) for m, res in results["circles"].items()}
plot_method_comparison(xx, yy, grids, X=data.X_test, y=data.y_test);

# %% [markdown]
# ## Wine: three classes
# The MLP builder infers the number of classes from the labels (`n_classes` can be given).
# The confusion matrix of ADVI's predictive mean on the held-out half:

# %%
from bnngallery.models import mnist_mlp

data = splits["wine"]
probs = predict(mnist_mlp.build_model, results["wine"]["advi"], data.X_test, draws=N_PRED).mean(0)
plot_confusion(probs, data.y_test);

# %% [markdown]
# ## Colour digits: the CNN on 8x8 images with 3 channels
# The CNN builder keeps the image size ("same" padding) and reads the channels from the
# array's last axis. The most uncertain held-out digits (highest predictive entropy), with the
# predicted and the true label.

# %%
from bnngallery.models import cnn

data = splits["digits-rgb"]
p_draws = predict(cnn.build_model, results["digits-rgb"]["advi"], data.X_test, draws=N_PRED)
entropy = predictive_entropy(p_draws)
worst = np.argsort(entropy)[::-1][:16]
pred = p_draws.mean(0).argmax(-1)
titles = [f"pred {pred[i]} / true {data.y_test[i]}\nH = {entropy[i]:.2f}" for i in worst]
plot_image_grid(data.X_test[worst], titles=titles, ncols=8, suptitle="Most uncertain colour digits (ADVI)");

# %% [markdown]
# ## Friedman #1: is the true function inside the band?
# The data are `10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5` plus noise of sd 1, with five
# more features that do nothing. Each held-out point's 90 % interval of the network's mean
# function (epistemic uncertainty alone) is drawn against the true function's value there.

# %%
from bnngallery.models import regression

data = splits["friedman"]
truth = friedman_function(data.X_test)
fig, axes = plt.subplots(1, len(results["friedman"]), figsize=(5.5 * len(results["friedman"]), 4.5), squeeze=False)
for ax, (method, res) in zip(axes[0], results["friedman"].items(), strict=True):
    mu = predict(regression.build_model, res, data.X_test, draws=N_PRED)
    lo, mid, hi = np.quantile(mu, [0.05, 0.5, 0.95], axis=0)
    inside = (truth >= lo) & (truth <= hi)
    ax.errorbar(truth, mid, yerr=[mid - lo, hi - mid], fmt="none", ecolor="0.7", lw=0.8)
    ax.scatter(truth, mid, c=np.where(inside, "C0", "C3"), s=8, zorder=3)
    ax.plot([truth.min(), truth.max()], [truth.min(), truth.max()], "k--", lw=0.8)
    ax.set(xlabel="true function", ylabel="predicted mean (90 % interval)",
           title=f"{method.upper()}: {inside.mean():.0%} of intervals hold the truth")
fig.tight_layout()

# %% [markdown]
# ## A fit that went wrong says so
# The moons article's network has no biases: its logit is an odd function of the inputs, so it
# cannot separate two concentric circles, whatever the inference. Fitted on the circles, it
# predicts the class frequencies everywhere, and the loss curve looks converged. `fit`
# notices (the fit is no better than a constant on the training data) and says why and what
# to do; the numbers are kept in the result's `collapse` attribute.

# %%
data = load_reuse_set("circles", random_state=SEED)
article = moons.build_model(data.X_train, data.y_train, **moons.ARTICLE, batch_size=S["batch_size"])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", CollapseWarning)
    bad = fit(article, steps=S["steps"], draws=S["advi_draws"], random_seed=SEED, progressbar=False)
flagged = [w for w in caught if issubclass(w.category, CollapseWarning)]
print(flagged[0].message if flagged else "not flagged")
print()
print("attrs['collapse'] =", bad.attrs["collapse"])

# %% [markdown]
# ## What was measured

# %%
measured = {}
for name, row in rows.items():
    if row["kind"] == "regression":
        ref = f" (NUTS {row['nuts']['rmse']:.3f})" if "nuts" in row else ""
        measured[f"{name}: ADVI test RMSE"] = f"{row['advi']['rmse']:.3f}{ref}"
    else:
        ref_acc = row["advi"]["accuracy"] + row["points_behind"] / 100
        measured[f"{name}: ADVI test accuracy"] = (f"{row['advi']['accuracy']:.3f} ({row['reference']} {ref_acc:.3f}, "
                                                  f"{row['points_behind']:+.1f} points behind)")
measured["article net on the circles flagged as collapsed"] = bool(flagged)
display(Markdown(measured_table(measured)))
