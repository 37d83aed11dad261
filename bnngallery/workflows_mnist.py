"""End-to-end MNIST runs behind ``bnngallery run mnist-mlp`` and ``bnngallery run mnist-cnn``.

Each run loads MNIST (60k train / 10k test; a few thousand in smoke mode), fits the model by
minibatch ADVI on the JAX engine, predicts the test set (or held-out training images, with the
``holdout`` setting) and the out-of-distribution sets (Fashion-MNIST by default; any IDX set
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

import platform
import time
from pathlib import Path

import numpy as np

from .engine import fit
from .predict import predict
from .results import final_elbo, save_result
from .uncertainty import classification_report, predictive_mean, uncertainty_scores
from .workflows import _cpu_count, write_json

#: Data, fit and prediction sizes per family: "full" is the real run, "smoke" checks the plumbing.
#: The JAX engine runs these nets in float32 (the builders' matrix products already are):
#: about twice as fast as float64 on CPU and far faster on GPUs. Both nets use ReLU units and
#: the scale-mixture weight prior with a fixed wide component Normal(0, 1) (``prior_sigma``),
#: which predict far better than the article's tanh units under a Normal prior (README, "MNIST");
#: the step size follows the engine's default cosine decay.
_MNIST_MODEL = {"activation": "relu", "prior": "scale-mixture", "hierarchical": False, "prior_sigma": 1.0}
#: The MLP's posterior temperature: its Bayes posterior (T = 1) predicts under-confidently
#: (README, "MNIST and the weight prior"). Chosen by the lowest NLL on the last 10k training
#: images held out (``benchmarks/mnist_temperature.py``); the CNN is calibrated at T = 1.
MLP_TEMPERATURE = 0.25
_MNIST_FIT = {"learning_rate": 0.01, "init_sd": 1e-3, "mc_samples": 1, "precision": "float32"}
MNIST_SETTINGS = {
    "mnist-mlp": {
        "full": {"n_train": None, "n_test": None, "n_ood": None, "steps": 8000, "batch_size": 256, **_MNIST_FIT,
                 "draws": 200, "predict_draws": 100,
                 "model": {"hidden": (400, 400), **_MNIST_MODEL, "temperature": MLP_TEMPERATURE}},
        "smoke": {"n_train": 1000, "n_test": 300, "n_ood": 300, "steps": 150, "batch_size": 128, **_MNIST_FIT,
                  "draws": 20, "predict_draws": 20,
                  "model": {"hidden": (32, 32), **_MNIST_MODEL, "temperature": MLP_TEMPERATURE}},
    },
    "mnist-cnn": {
        "full": {"n_train": None, "n_test": None, "n_ood": None, "steps": 6000, "batch_size": 128, **_MNIST_FIT,
                 "draws": 200, "predict_draws": 30, "model": {**_MNIST_MODEL}},
        "smoke": {"n_train": 1000, "n_test": 300, "n_ood": 300, "steps": 100, "batch_size": 64, **_MNIST_FIT,
                  "draws": 20, "predict_draws": 20, "model": {"filters": (8, 8), "dense": (32,), **_MNIST_MODEL}},
    },
}


def mnist_settings(family: str, *, smoke: bool = False, overrides: dict | None = None) -> dict:
    """The run settings of ``family`` (``"mnist-mlp"`` or ``"mnist-cnn"``): the CLI's and the notebooks'.

    ``overrides`` replace entries; its ``"model"`` entries update the builder keywords, and
    ``"holdout": N`` scores the run on the last ``N`` training images instead of the test set
    (:func:`load_mnist_splits`; ``n_test`` then plays no part, and the metrics named ``test_*``
    are the held-out ones, with ``scored_on`` saying so).
    """
    if family not in MNIST_SETTINGS:
        raise ValueError(f"family must be one of {sorted(MNIST_SETTINGS)}; got {family!r}.")
    size = {**MNIST_SETTINGS[family]["smoke" if smoke else "full"]}
    size.update({k: v for k, v in (overrides or {}).items() if k != "model"})
    size["model"] = {**size["model"], **(overrides or {}).get("model", {})}
    return size


def advi_options(size: dict, *, backend: str = "jax") -> dict:
    """The keywords of ``fit(model, "advi", ...)`` in run settings ``size`` (from
    :func:`mnist_settings`): one mapping for the CLI and the notebooks. The PyTensor backend
    runs in float64."""
    return {"steps": size["steps"], "learning_rate": size["learning_rate"], "init_sd": size["init_sd"],
            "mc_samples": size["mc_samples"], "draws": size["draws"],
            "precision": size["precision"] if backend == "jax" else "float64"}


#: Out-of-distribution sets used unless the caller names others (registered names or IDX folders).
DEFAULT_OOD = ("fashion-mnist",)


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
        raise ValueError(f"holdout must be a whole number of training images between 1 and {len(X) - 1}; "
                         f"got {holdout!r}.")
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


def default_conv_impl(backend: str) -> str:
    """``"op"`` (a real convolution) on GPU; ``"im2col"`` on CPU, where XLA runs a convolution
    inside the engine's ``lax.scan`` loop about 20x slower than outside it (measured here:
    3.8 s vs 0.2 s per gradient of the article's CNN at batch 128), while im2col's dot products
    keep their speed (0.4 s)."""
    if backend != "jax":
        return "im2col"
    import jax

    return "op" if jax.default_backend() == "gpu" else "im2col"


def learned_scales(result) -> dict[str, dict[str, float]]:
    """Posterior mean and sd of each layer's weight scale ``sigma_<layer>`` (hierarchical models)."""
    post = result["posterior"]
    return {name[len("sigma_"):]: {"mean": float(post[name].mean()), "sd": float(post[name].std())}
            for name in post.data_vars if name.startswith("sigma_")}


def run_mnist_mlp(*, methods=("advi",), backend: str = "jax", smoke: bool = False,
                  out_dir: str | Path = "out/mnist-mlp", random_seed: int = 0, progressbar: bool = True,
                  log=print, ood=DEFAULT_OOD, data_dir=None, settings: dict | None = None) -> dict:
    """The Bayesian MLP on MNIST: minibatch ADVI, uncertainty, calibration and OOD.

    The network and prior are :data:`MNIST_SETTINGS`' ``"model"`` entries (ReLU, scale-mixture
    prior, posterior temperature :data:`MLP_TEMPERATURE`); ``settings={"model": {"temperature": 1.0}}`` fits the
    Bayes posterior, and ``{"model": {"prior": "normal", "hierarchical": True}}`` article A's
    hierarchical prior, whose learned per-layer scales go into ``learned_scales``.

    Parameters
    ----------
    methods : sequence of {"advi", "nuts"}
        ``"nuts"`` is skipped on MNIST (logged); see the module docstring.
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
    log : callable
        Receives progress messages.
    ood : sequence of str or path
        Out-of-distribution IDX sets (registered names or folders); the test split is used.
    data_dir : path, optional
        Where the IDX data sets are (defaults to ``BNNGALLERY_DATA_DIR`` / the cache).
    settings : dict, optional
        Overrides of :data:`MNIST_SETTINGS` entries (``"model"`` entries are builder keywords).

    Returns
    -------
    dict
        The contents of ``metrics.json``.
    """
    from bnngallery.models import mnist_mlp

    return _run_mnist("mnist-mlp", mnist_mlp.build_model, methods=methods, backend=backend, smoke=smoke,
                      out_dir=out_dir, random_seed=random_seed, progressbar=progressbar, log=log, ood=ood,
                      data_dir=data_dir, overrides=settings)


def run_mnist_cnn(*, methods=("advi",), backend: str = "jax", smoke: bool = False,
                  out_dir: str | Path = "out/mnist-cnn", random_seed: int = 0, progressbar: bool = True,
                  log=print, ood=DEFAULT_OOD, data_dir=None, settings: dict | None = None) -> dict:
    """The Bayesian CNN on MNIST; parameters as in :func:`run_mnist_mlp`."""
    from bnngallery.models import cnn

    return _run_mnist("mnist-cnn", cnn.build_model, methods=methods, backend=backend, smoke=smoke,
                      out_dir=out_dir, random_seed=random_seed, progressbar=progressbar, log=log, ood=ood,
                      data_dir=data_dir, overrides=settings)


def _run_mnist(family, builder, *, methods, backend, smoke, out_dir, random_seed, progressbar, log, ood,
               data_dir, overrides):
    import matplotlib

    matplotlib.use("Agg")
    from .plots import plot_elbo, save_figure

    size = mnist_settings(family, smoke=smoke, overrides=overrides)
    model_kw = size.pop("model")
    unknown = [m for m in methods if m not in ("advi", "nuts")]
    if unknown:
        raise ValueError(f"methods must be 'advi' and/or 'nuts' for {family}; got {unknown}.")
    if family == "mnist-cnn" and "conv_impl" not in model_kw:
        model_kw["conv_impl"] = default_conv_impl(backend)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    holdout = size.get("holdout")
    X, y, Xt, yt = load_mnist_splits(n_train=size["n_train"], n_test=size["n_test"], holdout=holdout,
                                     data_dir=data_dir)
    X_ood = load_ood(ood, limit=size["n_ood"], data_dir=data_dir)
    scored_on = "test" if holdout is None else "holdout"
    scored_text = "test" if holdout is None else f"held-out training (the last {holdout}; validation)"
    log(f"[{family}] {len(X)} training / {len(Xt)} {scored_text} images; OOD sets: "
        + ", ".join(f"{k} ({len(v)})" for k, v in X_ood.items()))
    runs, notes = [], []
    for method in methods:
        if method == "nuts":
            note = (f"NUTS skipped for {family}: the full-data log density of a network with "
                    "hundreds of thousands of weights on 60k images is not practical to sample here; "
                    "NUTS remains the check on the moons model.")
            log(f"[{family}] {note}")
            notes.append(note)
            continue
        t0 = time.perf_counter()
        model = builder(X, y, batch_size=size["batch_size"], random_seed=random_seed, **model_kw)
        log(f"[{family}] ADVI ({backend}), minibatch {size['batch_size']}, {size['steps']} steps, "
            f"lr {size['learning_rate']}, init_sd {size['init_sd']}, model {model.gallery_info['settings']}")
        result = fit(model, "advi", backend=backend, random_seed=random_seed, progressbar=progressbar,
                     **advi_options(size, backend=backend))
        wall = time.perf_counter() - t0
        save_result(result, out_dir / f"{method}.nc")
        t1 = time.perf_counter()
        p_test = predict(builder, result, Xt, draws=min(size["predict_draws"], size["draws"]),
                         random_seed=random_seed)
        p_ood = {k: predict(builder, result, v, draws=min(size["predict_draws"], size["draws"]),
                            random_seed=random_seed) for k, v in X_ood.items()}
        predict_seconds = time.perf_counter() - t1
        report = classification_report(p_test, yt, ood=p_ood)
        row = {
            "method": method,
            "backend": result.attrs["backend"],
            "scored_on": scored_on,
            "test_accuracy": report["test_accuracy"],
            "test_nll": report["test_nll"],
            "ece": report["ece"],
            "accuracy_at_95pct_kept": report["accuracy_at_95pct_kept"],
            "referral_gain_at_95pct_kept": report["accuracy_at_95pct_kept"] - report["test_accuracy"],
            "best_ood_auroc": max(max(v.values()) for v in report["ood_auroc"].values()) if p_ood else None,
            "fit_seconds": float(result.attrs["fit_seconds"]),
            "compile_seconds": float(result.attrs["compile_seconds"]),
            "predict_seconds": predict_seconds,
            "wall_seconds": wall,
            "steps": int(result.attrs["steps_done"]),
            "final_elbo": final_elbo(result),
            "device": str(result.attrs.get("device", "")),
            "accuracy_at_95pct_kept_by_measure": report["accuracy_at_95pct_kept_by_measure"],
            "ood_auroc": report.get("ood_auroc", {}),
            "ood_flagged_at_p99": report.get("ood_flagged_at_p99", {}),
            "ood_threshold_p99": report.get("ood_threshold", {}),
            "mean_uncertainty_correct": report["mean_uncertainty_correct"],
            "mean_uncertainty_wrong": report["mean_uncertainty_wrong"],
            "learned_scales": learned_scales(result),
            "model_settings": dict(model.gallery_info["settings"]),
        }
        runs.append(row)
        log(f"[{family}] accuracy {row['test_accuracy']:.4f}, NLL {row['test_nll']:.4f}, ECE {row['ece']:.4f}, "
            f"acc@95% kept {row['accuracy_at_95pct_kept']:.4f}, best OOD AUROC {row['best_ood_auroc']}, "
            f"fit {row['fit_seconds']:.0f} s")
        save_figure(plot_elbo(result), out_dir / "elbo.png")
        _save_figures(family, result, p_test, yt, Xt, p_ood, out_dir, save_figure, scored_on=scored_on)
    metrics = {"model": family, "runs": runs, "agreement": None,
               "settings": {**size, "model": model_kw, "smoke": smoke, "random_seed": random_seed,
                            "backend": backend, "ood": [str(o) for o in ood]},
               "notes": notes,
               "machine": f"{platform.machine()} {platform.system()}, {_cpu_count()} CPUs"}
    write_json(_jsonable(metrics), out_dir / "metrics.json")
    return metrics


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def _save_figures(family, result, p_test, yt, Xt, p_ood, out_dir, save_figure, *, scored_on="test"):
    import matplotlib.pyplot as plt

    from .uncertainty import (plot_confusion, plot_image_grid, plot_referral_curves, plot_reliability_diagram,
                              plot_score_histograms)

    mean = predictive_mean(p_test)
    correct = mean.argmax(1) == yt
    scores = uncertainty_scores(p_test)
    save_figure(plot_confusion(mean, yt).figure, out_dir / "confusion.png")
    save_figure(plot_reliability_diagram(mean, yt).figure, out_dir / "reliability.png")
    save_figure(plot_referral_curves(correct, scores).figure, out_dir / "referral.png")
    if p_ood:
        ood_scores = {k: uncertainty_scores(v, ["entropy"])["entropy"] for k, v in p_ood.items()}
        thr = float(np.percentile(scores["entropy"], 99))
        ax = plot_score_histograms({f"MNIST {scored_on}": scores["entropy"], **ood_scores}, threshold=thr,
                                   title="Predictive entropy: in- vs out-of-distribution")
        save_figure(ax.figure, out_dir / "ood_entropy.png")
    worst = np.argsort(-scores["entropy"])[:16]
    titles = [f"y={yt[i]} pred={mean[i].argmax()}\nH={scores['entropy'][i]:.2f}" for i in worst]
    save_figure(plot_image_grid(Xt[worst], titles=titles, suptitle=f"Most uncertain {scored_on} digits"),
                out_dir / "most_uncertain.png")
    plt.close("all")
