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
# # MNIST with a hierarchical Bayesian MLP: learned scales, pruned units and useful uncertainty
#
# Article A's network (two hidden layers, softmax output, Categorical likelihood), fitted by
# minibatch ADVI on the 60k training images, under the gallery's **hierarchical horseshoe
# prior**: each layer's weights are `Normal(0, sigma_layer * lambda_unit)`, with a global scale
# `sigma_layer ~ HalfCauchy(1)` per layer and a local scale `lambda_unit ~ HalfCauchy(1)` per
# input unit, all learned from the data. The half-Cauchy's mass near zero lets the weights
# leaving a unit shrink together; its heavy tail lets the units the data need escape.
# The notebook fits three networks:
#
# - the gallery's MLP (the settings of `bnngallery run mnist-mlp`): the horseshoe with ReLU
#   units and a **tempered posterior** `p(y | w) ** (1 / T) * p(w)`, T chosen on held-out
#   training images;
# - the same prior at T = 1, the Bayes posterior, whose predictions are under-confident;
# - article A's **hierarchical prior** (at T = 1): `Normal(0, sigma_layer)` weights with
#   `sigma_layer ~ HalfNormal(1)`, one scale per layer.
#
# The posterior predictive then says how sure the network is, which we use to refer the most
# uncertain digits (article C), to check calibration, and to flag Fashion-MNIST clothing and
# Kuzushiji-MNIST characters as "I don't know" (article B).
#
# **Run time:** about 8 min at full size on a 2-core CPU (estimated from its three fits' and
# predictions' times in the 2026-12-04 priors benchmark); `SMOKE = True` (below) runs it
# in about a minute with tiny fits that only show it works. The numbers this run measured
# are in the last cell.

# %% tags=["parameters"]
SMOKE = False  # True shrinks the data, the network and every loop for a quick check
SEED = 0

# %%
import os

SMOKE = SMOKE or os.environ.get("BNNGALLERY_SMOKE") == "1"

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bnngallery import fit, predict
from bnngallery import plots as P
from bnngallery.diagnostics import uncertainty as U
from bnngallery.diagnostics.metrics import accuracy
from bnngallery.diagnostics.weights import learned_scales, pruned_fraction
from bnngallery.models import mnist_mlp
from bnngallery.plots import plot_elbo
from bnngallery.runs.common import measured_table
from bnngallery.runs.mnist import load_mnist_splits, load_ood, mnist_settings
from bnngallery.runs.settings import advi_options

S = mnist_settings("mnist-mlp", smoke=SMOKE)  # data sizes, steps, step size, draws and the builder's keywords
print(S)


def fit_advi(model):
    """Minibatch ADVI with the run settings."""
    return fit(model, "advi", random_seed=SEED, **advi_options(S))


# %% [markdown]
# ## Data
# Pixels scaled to [0, 1]; Fashion-MNIST and Kuzushiji-MNIST test images serve as inputs the
# network never saw (Kuzushiji's handwritten characters are far closer to digits than clothes).

# %%
X, y, Xt, yt = load_mnist_splits(n_train=S["n_train"], n_test=S["n_test"])
OOD_SETS = {"fashion-mnist": "Fashion-MNIST", "kmnist": "Kuzushiji-MNIST"}
ood = load_ood(list(OOD_SETS), limit=S["n_ood"])
fig = P.plot_image_grid(
    np.r_[Xt[:6], ood["fashion-mnist"][:6], ood["kmnist"][:6]],
    titles=[*map(str, yt[:6]), *["fashion"] * 6, *["kuzushiji"] * 6],
    suptitle="MNIST test digits, Fashion-MNIST and Kuzushiji-MNIST images",
)

# %% [markdown]
# ## The model
# `build_model` returns a `pm.Model`; `batch_size` makes the likelihood see a random
# minibatch per step, scaled by `total_size`, so the ELBO is an estimate of the full-data ELBO.

# %%
model = mnist_mlp.build_model(X, y, **S["model"], batch_size=S["batch_size"], random_seed=SEED)
model

# %% [markdown]
# ## Minibatch ADVI
# The weights are written non-centred, `w = sigma_layer * lambda_unit * w_raw` with
# `w_raw ~ Normal(0, 1)`, which mean-field ADVI fits far better than the centred horseshoe
# (Ghosh, Yao and Doshi-Velez, 2019). The step size decays along a cosine. At T < 1 the
# likelihood counts 1 / T times (`total_size` is n / T), which in the ELBO is the KL term at
# T of its weight: the objective below is the tempered posterior's ELBO.

# %%
advi = fit_advi(model)
print(f"compile {advi.attrs['compile_seconds']:.1f} s, run {advi.attrs['run_seconds']:.1f} s for {S['steps']} steps")
plot_elbo(advi);

# %% [markdown]
# ## What the prior learned and what it pruned
# Left: each layer's global scale and, one dot per input unit, the unit's scale
# `sigma_layer * lambda_unit` (posterior means). Right: the share of each layer's weights the
# fit switched off, their posterior mean within one posterior sd of zero.

# %% tags=["thumbnail"]
P.plot_learned_scales(advi)
scales = learned_scales(advi)
display(
    Markdown(
        measured_table(
            {
                f"layer {k}: scale / unit scales median (min-max)": f"{v['mean']:.3f} / "
                f"{v['mean'] * v['unit_median']:.3f} ({v['mean'] * v['unit_min']:.3f}-{v['mean'] * v['unit_max']:.3f})"
                for k, v in scales.items()
            }
            | {f"layer {k}: weights switched off": f"{v:.1%}" for k, v in pruned_fraction(advi).items()}
        )
    )
)

# %% [markdown]
# ## Accuracy and the confusion matrix
# Predictions average the softmax over posterior draws, in chunks of rows and draws.

# %%
p_test = predict(mnist_mlp.build_model, advi, Xt, draws=S["predict_draws"], random_seed=SEED)
p_ood = {k: predict(mnist_mlp.build_model, advi, v, draws=S["predict_draws"], random_seed=SEED) for k, v in ood.items()}
mean = U.predictive_mean(p_test)
correct = mean.argmax(1) == yt
print(
    f"test accuracy {correct.mean():.4f}, NLL {U.negative_log_likelihood(mean, yt):.4f}, "
    f"ECE {U.expected_calibration_error(mean, yt):.4f}"
)
P.plot_confusion(mean, yt);
# %% [markdown]
# ## Uncertainty of correct vs misclassified digits
# Article A's chi-square statistic over the labels predicted by the draws, and the
# predictive entropy: misclassified digits are the uncertain ones.

# %%
scores = U.uncertainty_scores(p_test)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for ax, m in zip(axes, ["chi2", "entropy"], strict=False):
    P.plot_score_histograms(
        {"correct": scores[m][correct], "misclassified": scores[m][~correct]}, ax=ax, title=f"{m} score", log=False
    )

# %% [markdown]
# ## Referral (article C) and calibration
# Referring the most uncertain predictions to a human raises the accuracy of the rest.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
P.plot_referral_curves(correct, scores, ax=axes[0])
P.plot_reliability_diagram(mean, yt, ax=axes[1])
print({m: round(U.accuracy_at_kept(correct, s, 0.95), 4) for m, s in scores.items()}, "vs all:", correct.mean())

# %% [markdown]
# ## Why a tempered posterior: the same fit at T = 1
# Under the Bayes posterior most weights sit on their prior (switched off, but still passing
# on noise at their unit's scale), so the average over draws is less confident than it should
# be: its reliability bars stand above the diagonal. Cooling the posterior narrows it and
# closes most of that gap. The gallery's T had the lowest NLL on the last 10k training images
# held out (`benchmarks/mnist_temperature.py`); the test set played no part in the choice.

# %%
bayes = fit_advi(
    mnist_mlp.build_model(X, y, **{**S["model"], "temperature": 1.0}, batch_size=S["batch_size"], random_seed=SEED)
)
p_bayes = predict(mnist_mlp.build_model, bayes, Xt, draws=S["predict_draws"], random_seed=SEED)
m_bayes = U.predictive_mean(p_bayes)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
P.plot_reliability_diagram(m_bayes, yt, ax=axes[0], label="T = 1 (Bayes)")
P.plot_reliability_diagram(mean, yt, ax=axes[1], label=f"T = {S['model']['temperature']}");

# %% [markdown]
# ## Out of distribution: Fashion-MNIST and Kuzushiji-MNIST
# A threshold at the 99th percentile of in-distribution uncertainty (article B) flags the
# unseen images above it; the AUROC says how well each measure separates them.

# %%
ood_reports = {k: U.ood_report(scores, U.uncertainty_scores(v)) for k, v in p_ood.items()}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for ax, m in zip(axes, ["mutual_info", "entropy"], strict=False):
    P.plot_score_histograms(
        {"MNIST": scores[m], **{OOD_SETS[k]: U.uncertainty_scores(v, [m])[m] for k, v in p_ood.items()}},
        ax=ax,
        threshold=ood_reports["fashion-mnist"][m]["threshold"],
        title=m,
    )
display(
    Markdown(
        "\n".join(
            [
                "| measure | " + " | ".join(f"{OOD_SETS[k]} AUROC / flagged" for k in ood_reports) + " |",
                "|---|" + "---|" * len(ood_reports),
            ]
            + [
                f"| {m} | "
                + " | ".join(f"{r[m]['auroc']:.3f} / {r[m]['flagged']:.2f}" for r in ood_reports.values())
                + " |"
                for m in scores
            ]
        )
    )
)

# %% [markdown]
# ## The most uncertain test digits

# %%
worst = np.argsort(-scores["entropy"])[:16]
P.plot_image_grid(
    Xt[worst], titles=[f"y={yt[i]} pred={mean[i].argmax()}" for i in worst], suptitle="Most uncertain test digits"
);

# %% [markdown]
# ## Article A's hierarchical prior, for comparison
# The same network, data and fit on the Bayes posterior (T = 1), with `Normal(0, sigma_<layer>)`
# weights and one learned `sigma_<layer> ~ HalfNormal(1)` per layer. Its scales cannot tell
# a unit the data need from one they do not, so every switched-off weight keeps its layer's
# full scale as noise: it predicts worse than the horseshoe at T = 1 (README, the priors table).

# %%
hier_kw = {**S["model"], "prior": "normal", "hierarchical": True, "init_scale": None, "temperature": 1.0}
hier = fit_advi(mnist_mlp.build_model(X, y, **hier_kw, batch_size=S["batch_size"], random_seed=SEED))
P.plot_learned_scales(hier)
print({k: round(v["mean"], 4) for k, v in learned_scales(hier).items()})

# %%
p_hier = predict(mnist_mlp.build_model, hier, Xt, draws=S["predict_draws"], random_seed=SEED)
m_hier = U.predictive_mean(p_hier)


def best_auroc(fit_result, p_in):
    """Per OOD set, the AUROC of the measure that separates it best."""
    s_in = U.uncertainty_scores(p_in)
    out = []
    for X_ood in ood.values():
        p = predict(mnist_mlp.build_model, fit_result, X_ood, draws=S["predict_draws"], random_seed=SEED)
        out.append(max(r["auroc"] for r in U.ood_report(s_in, U.uncertainty_scores(p)).values()))
    return out


aurocs = [
    [max(r["auroc"] for r in ood_reports[k].values()) for k in ood],
    best_auroc(bayes, p_bayes),
    best_auroc(hier, p_hier),
]

# %% [markdown]
# ## What this run measured
# The three fits: the horseshoe at the gallery's temperature, the horseshoe at T = 1, and
# article A's hierarchical prior (at T = 1).

# %%
means = [mean, m_bayes, m_hier]
display(
    Markdown(
        measured_table(
            {
                f"test accuracy: horseshoe T = {S['model']['temperature']} / T = 1 / article A": [
                    accuracy(m, yt) for m in means
                ],
                "test NLL: same order": [U.negative_log_likelihood(m, yt) for m in means],
                "expected calibration error: same order": [U.expected_calibration_error(m, yt) for m in means],
                "OOD AUROC, Fashion-MNIST (best measure): same order": [a[0] for a in aurocs],
                "OOD AUROC, Kuzushiji-MNIST (best measure): same order": [a[1] for a in aurocs],
            },
            digits=4,
        )
    )
)
