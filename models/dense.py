"""The dense Bayesian network, written once: the moons, regression and MNIST MLP builders are
configurations of :func:`build_dense`.

A dense BNN here is

    inputs -> standardise -> [dense -> activation] x len(hidden) -> dense -> head

with a choice of

- **head**: ``"bernoulli"`` (binary labels, one logit, output ``p``), ``"categorical"``
  (``n_classes`` logits, softmax output ``probs``) or ``"gaussian"`` (a mean on the target's
  scale and a learned noise sd, output ``mu``);
- **prior** (one vocabulary for every network, :data:`PRIORS`): ``"normal"``,
  ``"scale-mixture"`` (Blundell et al., 2015), ``"hierarchical"`` (a Normal whose scale per
  layer is learned, ``sigma_<layer> ~ HalfNormal(scale_prior)``) or ``"horseshoe"`` (a
  Normal whose scale is a half-Cauchy layer scale times a half-Cauchy scale per input unit);
  ``hierarchical=True`` puts the learned per-layer scale under either weight prior;
- **input scaling** (:data:`STANDARDIZE`): per feature, one global centre and scale (images),
  or none. The constants are computed from the training data and stored in the builder
  settings, so a prediction model rebuilt from a result scales new inputs the same way.

The builders' defaults are the ones that work on data they were not written for (biases on,
inputs standardised, an ADVI start scaled to each layer's fan-in); the source articles'
networks are named presets (``moons.ARTICLE``, ``regression.ARTICLE``) that the gallery's runs
pass explicitly.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..validation import (
    check_batch_size,
    check_choice,
    check_features,
    check_flag,
    check_hidden,
    check_labels,
    check_n_classes,
    check_positive,
    check_seed,
    check_targets,
)
from .info import tag_model
from .layers import (
    OBS_DIM,
    categorical_likelihood,
    data_and_batches,
    dense_stack,
    initial_scale,
    layer_names,
    layer_variables,
    network_options,
)

HEADS = ("bernoulli", "categorical", "gaussian")
#: Input scaling: ``"feature"`` centres and scales each column by its training mean and sd;
#: ``"global"`` uses one mean and sd over every value (images, whose border pixels are
#: constant); ``"none"`` passes the inputs as they are.
STANDARDIZE = ("feature", "global", "none")
#: Head -> name of the output Deterministic.
OUTPUTS = {"bernoulli": "p", "categorical": "probs", "gaussian": "mu"}
#: Name of the Gaussian head's noise sd (on the target's scale).
NOISE = "sigma"
#: The default ADVI start: a weight of a layer with fan-in ``f`` starts with posterior sd
#: ``ADVI_INIT_GAIN / sqrt(f)`` (never wider than its prior), so the noise the start adds to
#: each pre-activation is about ``ADVI_INIT_GAIN`` whatever the layer's width. A start at the
#: prior's width drowns the data's gradient in a small net with biases and ADVI settles on the
#: prior (a constant predictor); see ``benchmarks/reuse.py``.
ADVI_INIT_GAIN = 0.2


def check_standardize(standardize) -> str:
    """Return the input-scaling mode (``True`` means ``"feature"``, ``False`` ``"none"``)."""
    if standardize is True:
        return "feature"
    if standardize is False or standardize is None:
        return "none"
    if standardize not in STANDARDIZE:
        raise ValueError(f"standardize must be one of {STANDARDIZE} (or True / False); got {standardize!r}.")
    return str(standardize)


def input_scaling(X: np.ndarray, mode: str, x_loc, x_scale) -> tuple[list | float, list | float]:
    """The centre and scale of the inputs: the given ones (checked against X), else from X."""
    d = X.shape[1]
    if mode == "none":
        return 0.0, 1.0
    if x_loc is None or x_scale is None:
        if x_loc is not None or x_scale is not None:
            raise ValueError("Pass both x_loc and x_scale, or neither (they are computed from X).")
        axis = None if mode == "global" else 0
        # divided by the largest magnitude first, so values near the float limit do not overflow
        top = np.max(np.abs(X), axis=axis)
        top = np.where(top > 0, top, 1.0)
        loc, sd = np.mean(X / top, axis=axis) * top, np.std(X / top, axis=axis) * top
        sd = np.where(sd > 0, sd, 1.0)
        if mode == "global":
            return float(loc), float(sd)
        return loc.tolist(), sd.tolist()
    loc, scale = np.asarray(x_loc, dtype=np.float64), np.asarray(x_scale, dtype=np.float64)
    for name, v in (("x_loc", loc), ("x_scale", scale)):
        if v.ndim > 1 or (v.ndim == 1 and v.size != d):
            raise ValueError(
                f"{name} holds {v.size} values but X has {d} features; a model fitted on {v.size} features "
                "predicts only inputs with as many."
            )
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must hold finite numbers; got {v}.")
    if np.any(scale <= 0):
        raise ValueError("x_scale must be positive.")
    return (loc.tolist() if loc.ndim else float(loc)), (scale.tolist() if scale.ndim else float(scale))


def fan_in_init_sd(
    widths, names, *, prior_sigma: float, bias: bool, noncentered: bool = False, gain: float = ADVI_INIT_GAIN
) -> dict:
    """The default ADVI start per variable: ``gain / sqrt(fan_in)`` for each layer's weights
    and biases, capped at the prior's sd. Non-centred weights ``w_<layer>_raw`` are multiplied
    by a layer scale that starts at ``1 / sqrt(fan_in)``, so they start at sd ``gain`` (capped
    at their prior's sd, 1): the same noise on the weights themselves."""
    out = {}
    for i, name in enumerate(names):
        sd = min(gain / np.sqrt(widths[i]), prior_sigma)
        if noncentered:
            out[f"w_{name}_raw"] = min(gain, 1.0)
        else:
            out[f"w_{name}"] = sd
        if bias:
            out[f"b_{name}"] = sd
    return out


def build_dense(
    X,
    y=None,
    *,
    head: str,
    family: str,
    n_classes: int | None = None,
    hidden=(16,),
    activation: str = "tanh",
    bias: bool = True,
    prior: str = "normal",
    hierarchical: bool = False,
    noncentered: bool = False,
    prior_sigma: float = 1.0,
    scale_prior: float = 1.0,
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
    init_scale=None,
    bias_init_sd: float = 0.0,
    standardize="feature",
    x_loc=None,
    x_scale=None,
    noise_prior: float = 1.0,
    y_loc: float | None = None,
    y_scale: float | None = None,
    input_dim: str = "feature",
    dtype: str = "float64",
    temperature: float = 1.0,
    advi_init_sd: float | None = None,
    batch_size: int | None = None,
    random_seed: int = 0,
) -> pm.Model:
    """Build a dense BNN on ``X`` (n, d) with the given head; see the module docstring.

    ``init_scale`` sets the initial weight means, ``Normal(0, init_scale / sqrt(fan_in))``:
    one number for every layer or one per layer (None: 1 under a Normal prior, 0.1 under the
    scale mixture). ``bias_init_sd`` > 0 draws the hidden layers' initial biases from
    ``Normal(0, bias_init_sd)`` (spreads ReLU kinks over the inputs). ``advi_init_sd`` is the
    initial posterior sd ``fit`` uses by default: None scales it to each layer's fan-in
    (:func:`fan_in_init_sd`); a number uses it for every variable.

    Returns the ``pm.Model``, tagged with the builder settings that rebuild it.
    """
    check_choice(head, name="head", allowed=HEADS)
    X = check_features(X)
    hidden = check_hidden(hidden)
    bias = check_flag(bias, name="bias")
    act, dtype, prior_kw, hierarchical, noncentered, prior_sigma, scale_prior, temperature = network_options(locals())
    bias_init_sd = float(bias_init_sd)
    if not np.isfinite(bias_init_sd) or bias_init_sd < 0:
        raise ValueError(f"bias_init_sd must be a finite number >= 0; got {bias_init_sd!r}.")
    mode = check_standardize(standardize)
    x_loc, x_scale = input_scaling(X, mode, x_loc, x_scale)
    n, d = X.shape
    extra: dict = {}
    if head == "categorical":
        n_classes = check_n_classes(n_classes, y)
        n_out: int | None = n_classes
        extra["n_classes"] = n_classes
    else:
        if n_classes is not None and not (head == "bernoulli" and n_classes == 2):
            raise ValueError(f"n_classes applies to a categorical head only; this network's head is {head!r}.")
        n_out = None
    if y is not None:
        if head == "gaussian":
            y = check_targets(y, n_rows=n)
        else:
            y = check_labels(y, n_rows=n, n_classes=n_out or 2)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None  # a prediction model evaluates every row
    if head == "gaussian":
        noise_prior = check_positive(noise_prior, name="noise_prior")
        y_loc, y_scale = _target_scaling(y, y_loc, y_scale)
        extra.update(noise_prior=noise_prior, y_loc=y_loc, y_scale=y_scale)
    names = layer_names(len(hidden))
    widths = [d, *hidden, n_out]
    scales = _init_scales(init_scale, prior_kw["prior"], len(names))
    rng = np.random.default_rng(check_seed(random_seed))

    dims = [input_dim, *[f"hidden_{i}" for i in range(len(hidden))], *(["class"] if n_out else [])]
    coords: dict = {input_dim: np.arange(d)}
    coords.update({f"hidden_{i}": np.arange(w) for i, w in enumerate(hidden)})
    if n_out:
        coords["class"] = np.arange(n_out)
    with pm.Model(coords=coords) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size, temperature=temperature)
        if mode != "none":
            X_in = (X_in - np.asarray(x_loc)) / np.asarray(x_scale)
        out = dense_stack(
            pt.cast(X_in, dtype),
            widths=widths,
            names=names,
            dims=dims,
            act=act,
            rng=rng,
            init_scale=scales,
            prior_kw=prior_kw,
            hierarchical=hierarchical,
            noncentered=noncentered,
            prior_sigma=prior_sigma,
            scale_prior=scale_prior,
            dtype=dtype,
            bias=bias,
            bias_init_sd=bias_init_sd,
        )
        fitted = y is not None
        obs_dims = OBS_DIM if batch_size is None else None
        size_kw = {"total_size": total_size} if fitted else {}
        if head == "categorical":
            categorical_likelihood(
                out, y_in, total_size=total_size, batch_size=batch_size, output=OUTPUTS[head], fitted=fitted
            )
        elif head == "bernoulli":
            logit = pt.cast(out, "float64")
            pm.Deterministic(OUTPUTS[head], pm.math.sigmoid(logit), dims=obs_dims)
            pm.Bernoulli("y_obs", logit_p=logit, observed=y_in, dims=obs_dims, **size_kw)
        else:
            sigma = pm.HalfNormal(NOISE, sigma=noise_prior * y_scale, initval=0.5 * y_scale)
            mu = pm.Deterministic(OUTPUTS[head], y_loc + y_scale * pt.cast(out, "float64"), dims=obs_dims)
            pm.Normal("y_obs", mu=mu, sigma=sigma, observed=y_in, dims=obs_dims, **size_kw)
    if advi_init_sd is None:
        init_sd: float | dict = fan_in_init_sd(
            widths, names, prior_sigma=prior_sigma, bias=bias, noncentered=noncentered and hierarchical
        )
    else:
        init_sd = check_positive(advi_init_sd, name="advi_init_sd")
    settings = {
        "hidden": list(hidden),
        "activation": activation,
        "bias": bool(bias),
        **prior_kw,
        "hierarchical": hierarchical,
        "noncentered": bool(noncentered),
        "prior_sigma": prior_sigma,
        "scale_prior": scale_prior,
        "init_scale": scales if len(set(scales)) > 1 else scales[0],
        "bias_init_sd": bias_init_sd,
        "standardize": mode,
        "x_loc": x_loc,
        "x_scale": x_scale,
        **extra,
        "dtype": dtype,
        "temperature": temperature,
        "advi_init_sd": advi_init_sd,
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    task = {"bernoulli": "binary", "categorical": "multiclass", "gaussian": "regression"}[head]
    return tag_model(
        model,
        family=family,
        settings=settings,
        output=OUTPUTS[head],
        task=task,
        advi_init_sd=init_sd,
        last_layer=layer_variables(model),
    )


def _init_scales(init_scale, prior: str, n_layers: int) -> list[float]:
    """One initial-mean scale per layer from a number, a sequence or None (the prior's default)."""
    if init_scale is None or np.isscalar(init_scale):
        return [initial_scale(init_scale, prior)] * n_layers
    scales = [check_positive(s, name="init_scale") for s in init_scale]
    if len(scales) != n_layers:
        raise ValueError(f"init_scale holds {len(scales)} values but the network has {n_layers} weight layers.")
    return scales


def _target_scaling(y, y_loc, y_scale) -> tuple[float, float]:
    """Centre and scale of the regression target: given, else the mean and sd of ``y``."""
    if y_loc is None:
        y_loc = float(y.mean()) if y is not None else 0.0
    if y_scale is None:
        y_scale = float(y.std()) if y is not None and y.std() > 0 else 1.0
    y_loc = float(y_loc)
    if not np.isfinite(y_loc):
        raise ValueError(f"y_loc must be a finite number; got {y_loc!r}.")
    return y_loc, check_positive(y_scale, name="y_scale")
