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
# # A Bayesian CNN on MNIST: convolutions in a PyMC graph, fitted by minibatch ADVI
#
# Article A's network: conv 32 filters 5x5 -> max-pool 2x2 -> conv 32 5x5 -> max-pool 2x2 ->
# dense 256 -> dense 10 softmax, every weight Bayesian. The run settings are the CLI's
# (`bnngallery run mnist-cnn`, `SETTINGS` in `bnngallery/runs/settings.py`): ReLU
# units (the article's tanh is `activation="tanh"`) and Blundell et al.'s scale-mixture prior
# on the weights (`prior="scale-mixture"`; see the MLP notebook for what it changes). The
# convolution is a small PyTensor Op that the JAX backend compiles to
# `jax.lax.conv_general_dilated` (a real convolution for XLA and cuDNN); `conv_impl="im2col"`
# writes it as slices and a dot product instead. Uncertainty: article A's chi-square statistic
# for correct vs misclassified digits, referral, calibration, and Fashion-MNIST and Kuzushiji-MNIST
# as unseen inputs.
#
# **Run time:** about 20 min at full size on a 2-core CPU (2026-12-03, before the Kuzushiji-MNIST
# predictions, about 2 min more, were added); `SMOKE = True` (below) runs it in about a minute
# with tiny fits that only show it works. The numbers this run measured are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks the data, the network and every loop for a quick check
SEED = 0

# %%
import os
import warnings

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bnngallery import fit, predict
from bnngallery import plots as P
from bnngallery.collapse import CollapseWarning
from bnngallery.diagnostics import uncertainty as U
from bnngallery.models import cnn
from bnngallery.plots import plot_elbo
from bnngallery.runs.common import measured_table
from bnngallery.runs.mnist import (
    learned_scales,
    load_mnist_splits,
    load_ood,
    mnist_settings,
)
from bnngallery.runs.settings import advi_options

S = mnist_settings("mnist-cnn", smoke=SMOKE)  # data sizes, steps, step size, draws and the builder's keywords
print(S)
CONV = cnn.resolve_conv_impl("auto")  # "op" on GPU; on CPU im2col is faster inside the engine's scan loop
print("convolution:", CONV)

# %% [markdown]
# ## Data and model

# %%
X, y, Xt, yt = load_mnist_splits(n_train=S["n_train"], n_test=S["n_test"])
OOD_SETS = {"fashion-mnist": "Fashion-MNIST", "kmnist": "Kuzushiji-MNIST"}
ood = load_ood(list(OOD_SETS), limit=S["n_ood"])
model = cnn.build_model(X.reshape(-1, 28, 28), y, **S["model"], conv_impl=CONV, batch_size=S["batch_size"],
                        random_seed=SEED)
model

# %% [markdown]
# ## Minibatch ADVI

# %%
with warnings.catch_warnings():
    if SMOKE:  # a 100-step smoke fit is too short to learn, and fit's collapse check would rightly say so
        warnings.simplefilter("ignore", CollapseWarning)
    advi = fit(model, "advi", random_seed=SEED, **advi_options(S))  # steps, step size, init sd, draws, precision
print(f"compile {advi.attrs['compile_seconds']:.1f} s, run {advi.attrs['run_seconds']:.1f} s for {S['steps']} steps")
plot_elbo(advi);

# %% [markdown]
# ## Accuracy and the confusion matrix

# %%
p_test = predict(cnn.build_model, advi, Xt, draws=S["predict_draws"], random_seed=SEED)
p_ood = {k: predict(cnn.build_model, advi, v, draws=S["predict_draws"], random_seed=SEED) for k, v in ood.items()}
mean = U.predictive_mean(p_test)
correct = mean.argmax(1) == yt
print(f"test accuracy {correct.mean():.4f}, NLL {U.negative_log_likelihood(mean, yt):.4f}, "
      f"ECE {U.expected_calibration_error(mean, yt):.4f}")
if scales := learned_scales(advi):  # hierarchical variants only
    print("learned scales:", {k: round(v["mean"], 4) for k, v in scales.items()})
P.plot_confusion(mean, yt);

# %% [markdown]
# ## Article A's chi-square uniformity statistic: correct vs misclassified
# For each test digit, the labels predicted by the posterior draws are tested against a
# uniform distribution; a small statistic (labels spread out) means an uncertain prediction.

# %%
chi2 = U.chi2_uniformity(p_test, random_seed=SEED)
fig, ax = plt.subplots(figsize=(6, 3.5))
P.plot_score_histograms({"correct": chi2[correct], "misclassified": chi2[~correct]}, ax=ax, log=False,
                        title="chi-square statistic of predicted labels")
ax.set_xlabel("chi-square (high = certain)");

# %% [markdown]
# ## Referral and calibration

# %% tags=["thumbnail"]
scores = U.uncertainty_scores(p_test)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
P.plot_referral_curves(correct, scores, ax=axes[0])
P.plot_reliability_diagram(mean, yt, ax=axes[1])
print({m: round(U.accuracy_at_kept(correct, s, 0.95), 4) for m, s in scores.items()}, "vs all:", correct.mean())

# %% [markdown]
# ## Fashion-MNIST and Kuzushiji-MNIST as unseen inputs

# %%
ood_scores = {k: U.uncertainty_scores(v) for k, v in p_ood.items()}
reports = {k: U.ood_report(scores, v) for k, v in ood_scores.items()}
P.plot_score_histograms({"MNIST": scores["entropy"], **{OOD_SETS[k]: v["entropy"] for k, v in ood_scores.items()}},
                        threshold=reports["fashion-mnist"]["entropy"]["threshold"], title="predictive entropy")
for k, report in reports.items():
    for m, r in report.items():
        print(f"{OOD_SETS[k]:16s} {m:12s} AUROC {r['auroc']:.3f}  flagged at p99 {r['flagged']:.3f}")

# %% [markdown]
# ## The most uncertain test digits

# %%
worst = np.argsort(-scores["entropy"])[:16]
P.plot_image_grid(Xt[worst], titles=[f"y={yt[i]} pred={mean[i].argmax()}" for i in worst],
                  suptitle="Most uncertain test digits");

# %% [markdown]
# ## What this run measured

# %%
display(Markdown(measured_table({
    "test accuracy": correct.mean(),
    "test NLL": U.negative_log_likelihood(mean, yt),
    "expected calibration error": U.expected_calibration_error(mean, yt),
    "accuracy with the 5 % most uncertain referred (mutual information)":
        U.accuracy_at_kept(correct, scores["mutual_info"], 0.95),
    **{f"{OOD_SETS[k]} AUROC / flagged at the 99th percentile (entropy)":
       [r["entropy"]["auroc"], r["entropy"]["flagged"]] for k, r in reports.items()},
    "fit seconds (compile seconds)": f"{advi.attrs['fit_seconds']:.0f} ({advi.attrs['compile_seconds']:.0f})",
}, digits=4)))
