"""End-to-end MNIST runs behind ``bnngallery run mnist-mlp`` and ``bnngallery run mnist-cnn``.

Each run loads MNIST (60k train / 10k test; a few thousand in smoke mode), fits the model by
minibatch ADVI on the JAX engine, predicts the test set (or held-out training images, with the
``holdout`` setting) and the out-of-distribution sets (Fashion-MNIST and Kuzushiji-MNIST by default; any IDX set
by registered name or folder path) in chunks, and writes ``metrics.json`` (the moons shape:
one row per fit in ``runs``) with accuracy, NLL, ECE, the referral gain, OOD AUROC per
measure and set, the share of OOD inputs flagged at the 99th percentile of in-distribution
uncertainty, timings, the builder's resolved settings and the learned layer scales
(hierarchical variants; empty otherwise), plus the figures and the saved result.

NUTS on the full networks is not practical here (hundreds of thousands of weights and
60k images: one gradient costs a full pass over the data, and thousands are needed per
chain). ``"nuts"`` in ``methods`` is skipped with a logged note; the gallery's NUTS check
is on the moons model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..diagnostics.uncertainty import classification_report, predictive_mean, uncertainty_scores
from ..diagnostics.weights import learned_scales, pruned_fraction
from ..files import write_json
from ..inference.methods import REGISTRY
from ..models.cnn import resolve_conv_impl
from ..plots import (
    plot_confusion,
    plot_elbo,
    plot_image_grid,
    plot_learned_scales,
    plot_referral_curves,
    plot_reliability_diagram,
    plot_score_histograms,
    save_figure,
)
from ..predict import predict
from ..provenance import machine_description, software_versions
from ..results import model_settings_of
from ..validation import check_choice
from .common import check_methods, fit_methods, method_row, use_agg
from .settings import run_settings

__all__ = [
    "DEFAULT_OOD",
    "learned_scales",
    "load_mnist_splits",
    "pruned_fraction",
    "load_ood",
    "mnist_settings",
    "run_mnist_cnn",
    "run_mnist_mlp",
]


def mnist_settings(family: str, *, smoke: bool = False, overrides: dict | None = None) -> dict:
    """The run settings of ``family`` (``"mnist-mlp"`` or ``"mnist-cnn"``): the CLI's and the notebooks'.

    ``overrides`` replace entries; its ``"model"`` entries update the builder keywords, and
    ``"holdout": N`` scores the run on the last ``N`` training images instead of the test set
    (:func:`load_mnist_splits`; ``n_test`` then plays no part, and the metrics named ``test_*``
    are the held-out ones, with ``scored_on`` saying so).
    """
    check_choice(family, name="family", allowed=("mnist-cnn", "mnist-mlp"))
    return run_settings(family, smoke=smoke, overrides=overrides)


#: Out-of-distribution sets used unless the caller names others (registered names or IDX folders):
#: clothing (Fashion-MNIST) and handwritten Japanese characters (Kuzushiji-MNIST), the second
#: far closer to digits in stroke and layout.
DEFAULT_OOD = ("fashion-mnist", "kmnist")


def load_mnist_splits(*, n_train=None, n_test=None, holdout=None, data_dir=None):
    """MNIST train and test images (n, 784) float32 in [0, 1] and int labels, optionally truncated.

    ``holdout=N`` keeps the test set out of it: the last ``N`` of the (first ``n_train``)
    training images take its place, and the model trains on the rest. That validation split
    is where settings such as the MLP's temperature are chosen.
    """
    from bnngallery.data import load_mnist

    X, y = load_mnist("train", limit=n_train, data_dir=data_dir)
    if holdout is None:
        Xt, yt = load_mnist("test", limit=n_test, data_dir=data_dir)
        return X, y, Xt, yt
    if isinstance(holdout, bool) or not isinstance(holdout, (int, np.integer)) or not 0 < holdout < len(X):
        raise ValueError(
            f"holdout must be a whole number of training images between 1 and {len(X) - 1}; got {holdout!r}."
        )
    return X[:-holdout], y[:-holdout], X[-holdout:], y[-holdout:]


def load_ood(names, *, limit=None, data_dir=None) -> dict[str, np.ndarray]:
    """Test images of each out-of-distribution set, keyed by the name (or folder name) given."""
    from bnngallery.data import load_idx_dataset

    out = {}
    for name in names:
        X, _ = load_idx_dataset(name, "test", limit=limit, data_dir=data_dir)
        key = Path(str(name)).name if ("/" in str(name) or not isinstance(name, str)) else name
        out[key] = X
    return out


def run_mnist_mlp(
    *,
    methods=("advi",),
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/mnist-mlp",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    log=print,
    ood=DEFAULT_OOD,
    data_dir=None,
    settings: dict | None = None,
) -> dict:
    """The Bayesian MLP on MNIST: minibatch ADVI, uncertainty, calibration and OOD.

    The network and prior are the run settings' ``"model"`` entries (:mod:`.settings`: ReLU,
    the hierarchical horseshoe prior, posterior temperature ``MLP_TEMPERATURE``);
    ``settings={"model": {"temperature": 1.0}}`` fits the Bayes posterior, and
    ``{"model": {"prior": "normal", "hierarchical": True, "init_scale": None}}`` article A's
    hierarchical prior. The learned scales go into ``learned_scales``, the share of weights
    the fit switched off per layer into ``pruned_fraction``.

    Parameters
    ----------
    methods : sequence of str
        Any of :data:`bnngallery.METHODS` that takes a net this size (``"advi"``,
        ``"lowrank_advi"``, ``"ensemble"``, ``"sgld"``, ``"sghmc"``); ``"nuts"`` is skipped on MNIST
        (logged); see the module docstring.
    backend : {"jax", "pytensor"}
        Engine backend of the fit.
    smoke : bool
        A few thousand images and a few hundred steps.
    out_dir : path
        Where ``metrics.json``, ``advi.nc`` and the figures go.
    random_seed : int
        Seeds the initial weights, the fit and the draw subsets.
    progressbar : bool
        Show the fit's progress bar.
    devices : int, optional
        JAX devices for data-parallel ADVI (default: all visible accelerators, 1 on CPU).
    log : callable
        Receives progress messages.
    ood : sequence of str or path
        Out-of-distribution IDX sets (registered names or folders); the test split is used.
    data_dir : path, optional
        Where the IDX data sets are (defaults to ``BNNGALLERY_DATA_DIR`` / the cache).
    settings : dict, optional
        Overrides of the run settings (``"model"`` entries are builder keywords).

    Returns
    -------
    dict
        The contents of ``metrics.json``.
    """
    from bnngallery.models import mnist_mlp

    return _run_mnist(
        "mnist-mlp",
        mnist_mlp.build_model,
        methods=methods,
        backend=backend,
        smoke=smoke,
        out_dir=out_dir,
        random_seed=random_seed,
        progressbar=progressbar,
        devices=devices,
        log=log,
        ood=ood,
        data_dir=data_dir,
        overrides=settings,
    )


def run_mnist_cnn(
    *,
    methods=("advi",),
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/mnist-cnn",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    log=print,
    ood=DEFAULT_OOD,
    data_dir=None,
    settings: dict | None = None,
) -> dict:
    """The Bayesian CNN on MNIST; parameters as in :func:`run_mnist_mlp`."""
    from bnngallery.models import cnn

    return _run_mnist(
        "mnist-cnn",
        cnn.build_model,
        methods=methods,
        backend=backend,
        smoke=smoke,
        out_dir=out_dir,
        random_seed=random_seed,
        progressbar=progressbar,
        devices=devices,
        log=log,
        ood=ood,
        data_dir=data_dir,
        overrides=settings,
    )


def _run_mnist(
    family,
    builder,
    *,
    methods,
    backend,
    smoke,
    out_dir,
    random_seed,
    progressbar,
    devices,
    log,
    ood,
    data_dir,
    overrides,
):
    use_agg()
    size = mnist_settings(family, smoke=smoke, overrides=overrides)
    model_kw = size.pop("model")
    methods = check_methods(methods, tuple(REGISTRY))
    if family == "mnist-cnn" and "conv_impl" not in model_kw:
        model_kw["conv_impl"] = resolve_conv_impl("auto", backend)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    holdout = size.get("holdout")
    X, y, Xt, yt = load_mnist_splits(n_train=size["n_train"], n_test=size["n_test"], holdout=holdout, data_dir=data_dir)
    X_ood = load_ood(ood, limit=size["n_ood"], data_dir=data_dir)
    scored_on = "test" if holdout is None else "holdout"
    scored_text = "test" if holdout is None else f"held-out training (the last {holdout}; validation)"
    log(
        f"[{family}] {len(X)} training / {len(Xt)} {scored_text} images; OOD sets: "
        + ", ".join(f"{k} ({len(v)})" for k, v in X_ood.items())
    )
    notes = []
    if "nuts" in methods:
        note = (
            f"NUTS skipped for {family}: the full-data log density of a network with "
            "hundreds of thousands of weights on 60k images is not practical to sample here; "
            "NUTS remains the check on the moons model."
        )
        log(f"[{family}] {note}")
        notes.append(note)
    fitted = [m for m in methods if m != "nuts"]
    log(f"[{family}] lr {size['learning_rate']}, init_sd {size['init_sd']}, model {model_kw}")
    results, walls = (
        fit_methods(
            builder,
            X,
            y,
            methods=fitted,
            size=size,
            backend=backend,
            random_seed=random_seed,
            progressbar=progressbar,
            devices=devices,
            build_kwargs=model_kw,
            out_dir=out_dir,
            log=log,
            tag=family,
        )
        if fitted
        else ({}, {})
    )
    runs = []
    for method, result in results.items():
        t1 = time.perf_counter()
        held = result["posterior"].sizes["chain"] * result["posterior"].sizes["draw"]
        n_draws = min(size["predict_draws"], held)  # an ensemble holds its members only
        p_test = predict(builder, result, Xt, draws=n_draws, random_seed=random_seed)
        p_ood = {k: predict(builder, result, v, draws=n_draws, random_seed=random_seed) for k, v in X_ood.items()}
        predict_seconds = time.perf_counter() - t1
        report = classification_report(p_test, yt, ood=p_ood)
        row = {
            **method_row(method, result, walls[method]),
            "scored_on": scored_on,
            "test_accuracy": report["test_accuracy"],
            "test_nll": report["test_nll"],
            "ece": report["ece"],
            "accuracy_at_95pct_kept": report["accuracy_at_95pct_kept"],
            "referral_gain_at_95pct_kept": report["accuracy_at_95pct_kept"] - report["test_accuracy"],
            "best_ood_auroc": max(max(v.values()) for v in report["ood_auroc"].values()) if p_ood else None,
            "predict_seconds": predict_seconds,
            "device": str(result.attrs.get("device", "")),
            "accuracy_at_95pct_kept_by_measure": report["accuracy_at_95pct_kept_by_measure"],
            "ood_auroc": report.get("ood_auroc", {}),
            "ood_flagged_at_p99": report.get("ood_flagged_at_p99", {}),
            "ood_threshold_p99": report.get("ood_threshold", {}),
            "mean_uncertainty_correct": report["mean_uncertainty_correct"],
            "mean_uncertainty_wrong": report["mean_uncertainty_wrong"],
            "learned_scales": learned_scales(result),
            "pruned_fraction": pruned_fraction(result),
            "model_settings": model_settings_of(result),
        }
        runs.append(row)
        log(
            f"[{family}] accuracy {row['test_accuracy']:.4f}, NLL {row['test_nll']:.4f}, ECE {row['ece']:.4f}, "
            f"acc@95% kept {row['accuracy_at_95pct_kept']:.4f}, best OOD AUROC {row['best_ood_auroc']}, "
            f"fit {row['fit_seconds']:.0f} s"
        )
        save_figure(plot_elbo(result), out_dir / "elbo.png")
        save_figure(plot_learned_scales(result), out_dir / "weights.png")
        _save_figures(result, p_test, yt, Xt, p_ood, out_dir, scored_on=scored_on)
    metrics = {
        "model": family,
        "runs": runs,
        "agreement": None,
        "settings": {
            **size,
            "model": model_kw,
            "smoke": smoke,
            "random_seed": random_seed,
            "backend": backend,
            "ood": [str(o) for o in ood],
        },
        "notes": notes,
        "machine": machine_description(),
        "software": software_versions(),
    }
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def _save_figures(result, p_test, yt, Xt, p_ood, out_dir, *, scored_on="test"):
    import matplotlib.pyplot as plt

    mean = predictive_mean(p_test)
    correct = mean.argmax(1) == yt
    scores = uncertainty_scores(p_test)
    save_figure(plot_confusion(mean, yt), out_dir / "confusion.png")
    save_figure(plot_reliability_diagram(mean, yt), out_dir / "reliability.png")
    save_figure(plot_referral_curves(correct, scores), out_dir / "referral.png")
    if p_ood:
        ood_scores = {k: uncertainty_scores(v, ["entropy"])["entropy"] for k, v in p_ood.items()}
        thr = float(np.percentile(scores["entropy"], 99))
        fig = plot_score_histograms(
            {f"MNIST {scored_on}": scores["entropy"], **ood_scores},
            threshold=thr,
            title="Predictive entropy: in- vs out-of-distribution",
        )
        save_figure(fig, out_dir / "ood_entropy.png")
    worst = np.argsort(-scores["entropy"])[:16]
    titles = [f"y={yt[i]} pred={mean[i].argmax()}\nH={scores['entropy'][i]:.2f}" for i in worst]
    save_figure(
        plot_image_grid(Xt[worst], titles=titles, suptitle=f"Most uncertain {scored_on} digits"),
        out_dir / "most_uncertain.png",
    )
    plt.close("all")
