"""Deep ensembles: several MAP fits from different random starts, each one draw.

Lakshminarayanan, Pritzel and Blundell (2017): the spread between independently trained
nets is a strong, cheap measure of uncertainty, and on MNIST an ensemble is the best of
uncertainty-baselines' methods. Each member is a MAP fit of the PyMC model by the ADVI
engine's point-mass family (:class:`bnngallery.inference.advi.Point`): the same log
density, minibatching and loop as ADVI, started at the initial point plus ``init_sd``
noise with its own seed. The result's draws are the members.
"""

from __future__ import annotations

import numpy as np

from .advi_loop import fit_advi_jax
from .output import FitOutput


def fit_ensemble(model, *, members: int, random_seed: int, **opts) -> FitOutput:
    """``members`` MAP fits (seeds ``random_seed``, ``random_seed + 1``, ...) as one output
    whose draws are the members; ``opts`` go to :func:`fit_advi_jax`."""
    fits = []
    for i in range(members):
        fits.append(
            fit_advi_jax(model, family="point", draws=1, random_seed=random_seed + i, jitter_start=True, **opts)
        )
        if fits[-1].interrupted:
            break
    losses = [np.asarray(f.loss) for f in fits]
    steps = min(len(loss) for loss in losses)
    member_loss = np.stack([loss[:steps] for loss in losses])
    return FitOutput(
        draws={k: np.concatenate([f.draws[k] for f in fits], axis=1) for k in fits[0].draws},
        loss=member_loss.mean(axis=0),
        member_loss=member_loss,
        objective="log density",
        compile_seconds=sum(f.compile_seconds for f in fits),
        run_seconds=sum(f.run_seconds for f in fits),
        steps_done=fits[-1].steps_done,
        interrupted=fits[-1].interrupted,
        batch_size=fits[0].batch_size,
        device=fits[0].device,
        extra={"members": len(fits)},
    )
