"""A Gaussian-likelihood regression BNN: the 1-D network of the torchbnn article (source D,
``y = x^5 - 10 x + noise``), and any (n, d) inputs.

Dense hidden layers with biases (ReLU by default) map the inputs to the mean ``mu`` of a
Gaussian likelihood whose noise ``sigma`` is learned (:func:`models.dense.build_dense` with a
``"gaussian"`` head). The network works on a standardised target, ``mu = y_loc + y_scale *
net(x)``, with ``y_loc`` / ``y_scale`` the training target's mean and sd; ``sigma`` is on the
data's scale with a ``HalfNormal(noise_prior * y_scale)`` prior. The inputs are standardised
per feature by default. Every constant is stored in the builder settings, so a prediction
model rebuilt from a result (``predict(build_model, result, X_new)``) uses the same ones.

The article uses one hidden layer of 1000 ReLU units with Normal(0, 0.1) priors; the default
here (50 units, Normal(0, 1) on the standardised scale) is small enough for NUTS to check
on a laptop CPU. The gallery's run passes :data:`ARTICLE` (raw inputs, ADVI
started at sd 0.1).
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from ..validation import check_hidden
from .dense import NOISE, build_dense

#: Name of the Deterministic holding the predictive mean of y.
OUTPUT = "mu"
__all__ = ["ARTICLE", "NOISE", "OUTPUT", "build_model"]
#: The settings of the gallery's regression run (its recorded numbers): raw inputs, ADVI
#: started at posterior sd 0.1 everywhere.
ARTICLE = {"standardize": "none", "advi_init_sd": 0.1}


def build_model(
    X,
    y=None,
    *,
    hidden=(50,),
    activation: str = "relu",
    prior: str = "normal",
    prior_sigma: float = 1.0,
    noise_prior: float = 1.0,
    standardize="feature",
    init_scale=None,
    bias_init_sd: float = 1.0,
    y_loc: float | None = None,
    y_scale: float | None = None,
    batch_size: int | None = None,
    random_seed: int = 0,
    **options,
) -> pm.Model:
    """Build the Gaussian-likelihood regression BNN.

    Parameters
    ----------
    X : array of shape (n, d)
        Inputs; finite numbers.
    y : array of shape (n,), optional
        Targets. ``None`` builds a prediction model whose ``y_obs`` is unobserved.
    hidden : sequence of int
        Hidden-layer widths (article: one layer of 1000).
    activation : str
        One of ``models.layers.ACTIVATIONS``; ``"relu"`` (article) or ``"tanh"``.
    prior : {"normal", "scale-mixture", "hierarchical", "horseshoe"}
        The weights' prior (``models.layers.PRIORS``) around ``prior_sigma``.
    prior_sigma : float
        Standard deviation of the prior on every weight and bias (standardised scale).
    noise_prior : float
        Scale of the HalfNormal prior on ``sigma``, in units of ``y_scale``.
    standardize : {"feature", "global", "none"}
        Input scaling (as in :func:`models.moons.build_model`).
    init_scale : float or sequence, optional
        Initial weight means ``Normal(0, init_scale / sqrt(fan_in))``; default sqrt(2) for
        the hidden layers under ReLU (He et al.), 1 otherwise and for the output layer.
    bias_init_sd : float
        Initial hidden biases are ``Normal(0, bias_init_sd)`` draws: random start biases
        spread the ReLU kinks over the inputs, where all-zero ones would put every kink at 0
        and start the optimiser on a symmetric point.
    y_loc, y_scale : float, optional
        Centre and scale of the target. Default: the mean and sd of ``y`` (or 0 and 1 when
        ``y`` is None). A prediction model must get the values the fit used; ``predict``
        passes them from the result's stored settings.
    batch_size : int, optional
        Minibatch size for the likelihood; ``None`` uses all rows every step.
    random_seed : int
        Seed of the random initial weights and biases.
    **options
        The rest of :func:`models.dense.build_dense`'s settings.

    Returns
    -------
    pm.Model
        With data containers ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out``, biases
        ``b_in``, ..., ``b_out``, the noise ``sigma``, the Deterministic ``mu`` and the
        likelihood ``y_obs``.
    """
    if init_scale is None:
        gain = float(np.sqrt(2.0)) if activation == "relu" else 1.0
        init_scale = [gain] * len(check_hidden(hidden)) + [1.0]
    return build_dense(
        X,
        y,
        head="gaussian",
        family="regression",
        hidden=hidden,
        activation=activation,
        prior=prior,
        prior_sigma=prior_sigma,
        noise_prior=noise_prior,
        standardize=standardize,
        init_scale=init_scale,
        bias_init_sd=bias_init_sd,
        y_loc=y_loc,
        y_scale=y_scale,
        batch_size=batch_size,
        random_seed=random_seed,
        **options,
    )
