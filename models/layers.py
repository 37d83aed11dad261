"""Building blocks shared by the gallery's PyMC models: data containers, dense layers, priors.

A builder composes these inside a ``pm.Model`` context. Every weight gets named dims,
and initial values are drawn from an explicit seed: a tanh network started at all-zero
weights sits on a saddle point, which is why the PyMC article draws random start values.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..validation import check_choice, check_dtype, check_flag, check_positive

OBS_DIM = "obs_id"
#: Weight priors: a Normal, or Blundell et al.'s (2015) scale mixture of a wide and a narrow Normal.
WEIGHT_PRIORS = ("normal", "scale-mixture")
#: The prior names every network builder takes: the weight priors; ``"hierarchical"``, a
#: Normal whose scale per layer is learned (``sigma_<layer> ~ HalfNormal(scale_prior)``; the
#: same as ``prior="normal", hierarchical=True``); and ``"horseshoe"``, a Normal whose scale is
#: a layer's global scale times one local scale per input unit, both half-Cauchy (see
#: :func:`layer_scale`).
PRIORS = (*WEIGHT_PRIORS, "hierarchical", "horseshoe")

ACTIVATIONS = {
    "tanh": pt.tanh,
    "relu": lambda x: pt.maximum(x, 0.0),
    "sigmoid": pt.sigmoid,
    "softplus": pt.softplus,
    "mish": lambda x: x * pt.tanh(pt.softplus(x)),
}


def get_activation(name: str):
    """Return the activation function called ``name`` or raise a ValueError naming the choices."""
    return ACTIVATIONS[check_choice(name, name="activation", allowed=sorted(ACTIVATIONS))]


def data_and_batches(
    X: np.ndarray, y: np.ndarray | None, *, batch_size: int | None, y_dims=OBS_DIM, temperature: float = 1.0
):
    """Register ``X`` (and ``y``) as ``pm.Data`` and return the tensors the likelihood should see.

    With ``batch_size`` set, both are wrapped in one ``pm.Minibatch`` so the rows of a batch
    stay paired; the returned tensors then hold ``batch_size`` random rows per step.

    ``temperature`` T tempers the likelihood alone, ``p(y | w) ** (1 / T) * p(w)``: it counts
    as ``n / T`` rows (rounded to a whole number) instead of ``n``. T = 1 is Bayes' rule; T < 1
    sharpens the posterior (a "tempered posterior" in Wenzel et al., 2020, whose "cold"
    posterior also raises the prior to 1 / T). Its ELBO is, up to the factor 1 / T, the Bayes
    ELBO with the KL term weighted by T, so ELBOs at different T are on different scales.

    Returns
    -------
    X_in, y_in, total_size
        ``y_in`` is None when ``y`` is None (a prediction model); ``total_size`` is the
        number of rows over the temperature, to be passed to the likelihood so minibatch
        log-likelihoods are scaled up to the full data.
    """
    x_dims = (OBS_DIM, *[f"{OBS_DIM}_dim{i}" for i in range(1, X.ndim)])
    if X.ndim == 2:
        x_dims = (OBS_DIM, "feature")
    X_data = pm.Data("X", X, dims=x_dims)
    y_data = pm.Data("y", y, dims=y_dims) if y is not None else None
    total_size = max(1, round(X.shape[0] / temperature))
    if batch_size is None:
        return X_data, y_data, total_size
    if y_data is None:
        raise ValueError("batch_size only applies to a model with observed y; use batch_size=None to predict.")
    X_in, y_in = pm.Minibatch(X_data, y_data, batch_size=batch_size)
    return X_in, y_in, total_size


def init_weights(shape: tuple[int, ...], *, fan_in: int, rng: np.random.Generator, scale: float = 1.0):
    """Random start values, ``Normal(0, scale / sqrt(fan_in))``: keeps tanh units out of saturation."""
    return rng.normal(0.0, scale / np.sqrt(fan_in), size=shape)


def layer_names(n_hidden: int) -> list[str]:
    """Names of a dense network's weight layers, input to output: ``in``, ``1``, ..., ``out``."""
    return ["in", *[str(i) for i in range(1, n_hidden)], "out"]


def layer_variables(model: pm.Model, name: str = "out") -> tuple[str, ...]:
    """The free random variables holding layer ``name``'s weights (``w_<name>``, or
    ``w_<name>_raw`` when non-centred) and bias (``b_<name>``), not its prior scales."""
    own = (f"w_{name}", f"w_{name}_raw", f"b_{name}")
    return tuple(rv.name for rv in model.free_RVs if rv.name in own)


def initial_scale(init_scale, prior: str) -> float:
    """The initial weight means' sd times ``sqrt(fan_in)``: 1 (LeCun) under a Normal prior, 0.1
    under the scale mixture (see :func:`weight`). The 0.1 is tuned for the gallery's MNIST
    runs, a fixed wide component ``Normal(0, 1)`` and fan-ins of 400 and more, where it starts
    the weights within the spike's reach; with a learned or smaller scale, or small fan-ins
    (the CNN's first convolution, 25), they start outside it."""
    if init_scale is None:
        return 1.0 if prior == "normal" else 0.1
    return check_positive(init_scale, name="init_scale")


def check_network_options(
    *,
    activation: str,
    dtype: str,
    prior: str,
    hierarchical,
    noncentered,
    slab_weight: float,
    spike_ratio: float,
    prior_sigma: float,
    scale_prior: float,
    temperature: float,
) -> dict:
    """Validate the options every network builder shares (dense and convolutional).

    Returns them checked: ``act`` (the activation function), ``dtype``, ``prior_kw`` (the
    keywords of :func:`weight`), ``hierarchical``, ``noncentered``, ``prior_sigma``,
    ``scale_prior`` and ``temperature``. The horseshoe is always hierarchical and non-centred.
    """
    prior_kw, hierarchical = check_prior(prior, hierarchical, slab_weight, spike_ratio)
    noncentered = check_flag(noncentered, name="noncentered") or prior_kw["prior"] == "horseshoe"
    return {
        "act": get_activation(activation),
        "dtype": check_dtype(dtype),
        "prior_kw": prior_kw,
        "hierarchical": hierarchical,
        "noncentered": noncentered,
        "prior_sigma": check_positive(prior_sigma, name="prior_sigma"),
        "scale_prior": check_positive(scale_prior, name="scale_prior"),
        "temperature": check_positive(temperature, name="temperature"),
    }


#: The keyword parameters every network builder takes under these names (dense and
#: convolutional), checked by :func:`check_network_options`.
NETWORK_OPTIONS = (
    "activation",
    "dtype",
    "prior",
    "hierarchical",
    "noncentered",
    "slab_weight",
    "spike_ratio",
    "prior_sigma",
    "scale_prior",
    "temperature",
)


def network_options(arguments) -> tuple:
    """:func:`check_network_options` on a builder's own arguments of the :data:`NETWORK_OPTIONS`
    names (a builder passes its ``locals()``), returned in the order ``act, dtype, prior_kw,
    hierarchical, noncentered, prior_sigma, scale_prior, temperature``."""
    opts = check_network_options(**{name: arguments[name] for name in NETWORK_OPTIONS})
    keys = ("act", "dtype", "prior_kw", "hierarchical", "noncentered", "prior_sigma", "scale_prior", "temperature")
    return tuple(opts[k] for k in keys)


def check_prior(prior: str, hierarchical, slab_weight: float, spike_ratio: float) -> tuple[dict, bool]:
    """Validate a builder's prior options (:data:`PRIORS`); return the keywords of
    :func:`weight` and whether the layer scales are learned."""
    check_choice(prior, name="prior", allowed=PRIORS)
    hierarchical = check_flag(hierarchical, name="hierarchical")
    if prior == "hierarchical":
        return check_weight_prior("normal", slab_weight, spike_ratio), True
    if prior == "horseshoe":
        return {"prior": prior, "slab_weight": float(slab_weight), "spike_ratio": float(spike_ratio)}, True
    return check_weight_prior(prior, slab_weight, spike_ratio), hierarchical


def check_weight_prior(prior: str, slab_weight: float, spike_ratio: float) -> dict:
    """Validate the weight-prior options; return them as the keywords of :func:`weight`."""
    check_choice(prior, name="prior", allowed=WEIGHT_PRIORS)
    if prior == "normal":  # the mixture's options do not apply
        return {"prior": prior, "slab_weight": float(slab_weight), "spike_ratio": float(spike_ratio)}
    slab_weight = check_positive(slab_weight, name="slab_weight")
    spike_ratio = check_positive(spike_ratio, name="spike_ratio")
    if slab_weight >= 1 or spike_ratio >= 1:
        raise ValueError(
            f"slab_weight and spike_ratio must lie in (0, 1); got {slab_weight} and {spike_ratio} "
            "(slab_weight=1 is the plain Normal prior: use prior='normal')."
        )
    return {"prior": prior, "slab_weight": slab_weight, "spike_ratio": spike_ratio}


def _prior(name: str, sigma, *, dims, init, prior: str, slab_weight: float, spike_ratio: float):
    """``Normal(0, sigma)``, or the scale mixture ``slab_weight * Normal(0, sigma) +
    (1 - slab_weight) * Normal(0, spike_ratio * sigma)``. The horseshoe's weights are Normal
    given their scale (:func:`layer_scale` draws the scale)."""
    if prior in ("normal", "horseshoe"):
        return pm.Normal(name, 0.0, sigma, dims=dims, initval=init)
    return pm.NormalMixture(
        name,
        w=np.array([slab_weight, 1.0 - slab_weight]),
        mu=np.zeros(2),
        sigma=pt.stack([sigma, spike_ratio * sigma], axis=-1),
        dims=dims,
        initval=init,
    )


def weight(
    name: str,
    *,
    dims,
    sigma,
    noncentered: bool,
    init,
    prior: str = "normal",
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
):
    """A weight tensor with prior scale ``sigma``, centred or as ``sigma * raw`` (non-centred).

    ``prior="normal"`` is ``Normal(0, sigma)``. ``prior="scale-mixture"`` is Blundell et al.'s
    (2015) scale mixture: a fraction ``slab_weight`` of ``Normal(0, sigma)`` (the slab) and the
    rest of ``Normal(0, spike_ratio * sigma)`` (the spike). A weight the data do not need can
    sit in the spike, switched off at little KL cost; a weight that matters pays the slab's
    price. On the MNIST MLP it predicts better than its slab alone, with a lower ELBO: a better
    predictor, not a better-fitting model by the ELBO's measure (`docs/mnist_scale_mixture.md`, "MNIST and the weight
    prior"; ``benchmarks/results/mnist_full.json``).

    Starting inside the spike matters: for a wide layer the usual ``1 / sqrt(fan_in)`` initial
    means lie beyond the spike's reach, so every weight would start under the slab; the
    builders' default for this prior, ``init_scale=0.1``, starts them ten times smaller.
    """
    kw = dict(prior=prior, slab_weight=slab_weight, spike_ratio=spike_ratio)
    if noncentered:
        raw = _prior(f"{name}_raw", 1.0, dims=dims, init=init / _value_of(sigma), **kw)
        return pm.Deterministic(name, raw * sigma, dims=dims)
    return _prior(name, sigma, dims=dims, init=init, **kw)


def _value_of(sigma) -> float:
    """The start value of a (possibly random) scale, for a consistent non-centred start."""
    tag = getattr(sigma, "tag", None)
    return float(getattr(tag, "_bnn_init", sigma if np.isscalar(sigma) else 1.0))


def layer_scale(
    name: str,
    *,
    hierarchical: bool,
    prior_sigma: float,
    scale_prior: float,
    init: float,
    prior: str = "normal",
    unit_dim: str | None = None,
    unit_shape: tuple[int, ...] = (),
):
    """Scale of one layer's weights: the fixed number ``prior_sigma``, a learned layer scale
    ``sigma_<name> ~ HalfNormal(scale_prior)`` (``hierarchical``), or the horseshoe's.

    The horseshoe (``prior="horseshoe"``; Carvalho et al. 2010, for BNNs Ghosh, Yao and
    Doshi-Velez 2019) multiplies a global layer scale ``sigma_<name> ~ HalfCauchy(scale_prior)``
    by a local scale ``lambda_<name> ~ HalfCauchy(1)`` per input unit (dims ``unit_dim``),
    reshaped to ``unit_shape`` so it broadcasts over the weights leaving that unit. The
    half-Cauchy's mass at zero lets a unit's weights shrink together and its heavy tail lets a
    unit the data need escape the shrinkage; a learned per-layer scale alone does neither. The
    weights are then ``Normal(0, sigma * lambda)``, written non-centred (:func:`weight`).
    """
    if not hierarchical:
        return prior_sigma
    if prior != "horseshoe":
        s = pm.HalfNormal(f"sigma_{name}", scale_prior, initval=init)
        s.tag._bnn_init = init
        return s
    n_units = int(np.prod(unit_shape))
    tau = pm.HalfCauchy(f"sigma_{name}", scale_prior, initval=init)
    lam = pm.HalfCauchy(f"lambda_{name}", 1.0, dims=unit_dim, initval=np.ones(n_units))
    s = tau * lam.reshape(unit_shape)
    s.tag._bnn_init = init
    return s


def dense_stack(
    h,
    *,
    widths,
    names,
    dims,
    act,
    rng,
    init_scale,
    prior_kw: dict,
    hierarchical: bool,
    noncentered: bool,
    prior_sigma: float,
    scale_prior: float,
    dtype: str,
    bias: bool = True,
    bias_init_sd: float = 0.0,
):
    """The dense layers of a network: ``h @ W_l (+ b_l)`` per layer, ``act`` between them.

    Layer ``l`` maps ``widths[l]`` to ``widths[l + 1]`` units along the named dims
    ``dims[l] -> dims[l + 1]``; a last width of None makes the last layer a vector (one
    output per row: a binary logit or a regression mean). Its weights ``w_<names[l]>`` get
    the prior of :func:`weight` at the scale :func:`layer_scale` gives (learned per layer when
    ``hierarchical``), its biases ``Normal(0, prior_sigma)``. ``init_scale`` (one number, or
    one per layer) sets the initial weight means (:func:`init_weights`); the hidden layers'
    initial biases are ``Normal(0, bias_init_sd)`` draws (zeros when 0), the output's zeros.
    The products run in ``dtype``. Returns the last layer's output, without an activation.
    """
    scales = [init_scale] * len(names) if np.isscalar(init_scale) else list(init_scale)
    for i, name in enumerate(names):
        n_in, n_out = widths[i], widths[i + 1]
        last = i == len(names) - 1
        shape = (n_in,) if n_out is None else (n_in, n_out)
        w_dims = (dims[i],) if n_out is None else (dims[i], dims[i + 1])
        init = init_weights(shape, fan_in=n_in, rng=rng, scale=scales[i])
        sigma = layer_scale(
            name,
            hierarchical=hierarchical,
            prior_sigma=prior_sigma,
            scale_prior=scale_prior,
            init=1.0 / np.sqrt(n_in),
            prior=prior_kw["prior"],
            unit_dim=dims[i],
            unit_shape=(n_in,) if n_out is None else (n_in, 1),
        )
        W = weight(
            f"w_{name}", dims=w_dims, sigma=sigma, noncentered=noncentered and hierarchical, init=init, **prior_kw
        )
        h = pt.dot(h, pt.cast(W, dtype))
        if bias:
            if n_out is None:
                b = pm.Normal(f"b_{name}", 0.0, prior_sigma, initval=0.0)
            else:
                b_init = rng.normal(0.0, bias_init_sd, size=n_out) if bias_init_sd > 0 and not last else np.zeros(n_out)
                b = pm.Normal(f"b_{name}", 0.0, prior_sigma, dims=(dims[i + 1],), initval=b_init)
            h = h + pt.cast(b, dtype)
        if not last:
            h = act(h)
    return h


def categorical_likelihood(logits, y_in, *, total_size, batch_size, output: str, fitted: bool) -> None:
    """Class probabilities ``output`` (softmax of the logits, dims (obs, class)) and the
    Categorical likelihood ``y_obs``, scaled to ``total_size`` rows when the model is fitted."""
    logits = pt.cast(logits, "float64")
    obs_dims = OBS_DIM if batch_size is None else None
    prob_dims = (OBS_DIM, "class") if batch_size is None else (None, "class")
    pm.Deterministic(output, pt.special.softmax(logits, axis=-1), dims=prob_dims)
    size_kw = {"total_size": total_size} if fitted else {}
    pm.Categorical("y_obs", logit_p=logits, observed=y_in, dims=obs_dims, **size_kw)
