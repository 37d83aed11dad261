"""What a fitted network's weights say: the scales a hierarchical prior learned and the share
of weights the fit switched off. Both read a fitted result (``fit``'s DataTree) of any of the
gallery's networks."""

from __future__ import annotations

import numpy as np


def learned_scales(result) -> dict[str, dict[str, float]]:
    """Posterior mean and sd of each layer's weight scale ``sigma_<layer>`` (hierarchical
    models), and for the horseshoe the median, smallest and largest posterior mean of its
    per-unit scales ``lambda_<layer>``."""
    post = result["posterior"]
    out = {}
    for name in post.data_vars:
        if name.startswith("sigma_"):
            layer = name[len("sigma_") :]
            out[layer] = {"mean": float(post[name].mean()), "sd": float(post[name].std())}
            if f"lambda_{layer}" in post:
                lam = post[f"lambda_{layer}"].mean(("chain", "draw")).values
                out[layer].update(
                    unit_median=float(np.median(lam)), unit_min=float(lam.min()), unit_max=float(lam.max())
                )
    return out


def pruned_fraction(result) -> dict[str, float]:
    """Share of each layer's weights that the fit switched off: posterior mean within one
    posterior sd of zero (signal-to-noise below 1, Blundell et al.'s pruning criterion), read
    from the fitted Gaussian (of ``w_<layer>_raw`` for non-centred weights, whose layer scale
    multiplies mean and sd alike). Empty for a fit with no Gaussian (ensemble, SGLD)."""
    if "approximation" not in result.children:
        return {}
    approx = result["approximation"]
    out = {}
    for name in approx.data_vars:
        if name.startswith("w_") and name.endswith("_mean"):
            base = name[: -len("_mean")]
            snr = np.abs(approx[name].values) / approx[f"{base}_sd"].values
            layer = base[len("w_") :].removesuffix("_raw")
            out[layer] = float(np.mean(snr < 1.0))
    return out
