"""The graph rewrites applied before JAX conversion (bnngallery.inference.rewrites) keep every
value: the log density and its gradient, and so a seeded fit's ELBO trajectory."""

import jax
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from pytensor.compile import mode as pt_mode
from pytensor.graph import FunctionGraph
from pytensor.tensor.elemwise import CAReduce

from bnngallery.inference import jaxify, rewrites


def _mixture_model():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6))
    y = X @ rng.normal(size=(6, 3)) + 0.1 * rng.normal(size=(40, 3))
    with pm.Model() as model:
        w = pm.NormalMixture("w", w=np.array([0.25, 0.75]), mu=np.zeros(2), sigma=np.array([1.0, 0.0025]), shape=(6, 3))
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", X @ w, s, observed=y)
    return model


def _compiled(model, rewrite):
    """logp and its gradient of ``model`` as one JAX function, its graph rewritten by ``rewrite``."""
    values = model.value_vars
    logp = model.logp()
    fgraph = FunctionGraph(values, [logp, *pt.grad(logp, values)], clone=True)
    rewrite(fgraph)
    return fgraph, jax.jit(jaxify.jax_dispatch()(fgraph))


def _short_reductions(fgraph) -> list:
    return [
        n
        for n in fgraph.apply_nodes
        if isinstance(n.op, CAReduce)
        and n.op.axis is not None
        and any(n.inputs[0].type.shape[a] == 2 for a in n.op.axis)
    ]


@pytest.mark.filterwarnings("ignore:Skipping .* as JAX tracing would remove it")
def test_lean_graph_keeps_logp_and_gradient_and_removes_short_reductions():
    model = _mixture_model()
    plain_graph, plain = _compiled(model, pt_mode.JAX.optimizer.rewrite)
    lean_graph_, lean = _compiled(model, rewrites.lean_graph)
    assert _short_reductions(plain_graph), "the mixture's log-sum-exp should reduce a length-2 axis"
    assert not _short_reductions(lean_graph_)
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = [rng.normal(scale=0.5, size=v.type.shape if None not in v.type.shape else ()) for v in model.value_vars]
        for a, b in zip(plain(*point), lean(*point), strict=True):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10, atol=1e-12)


def test_short_bool_sum_is_not_unrolled():
    b = pt.matrix("b", dtype="bool", shape=(None, 2))
    fgraph = FunctionGraph([b], [b.sum(axis=1)], clone=True)
    (node,) = [n for n in fgraph.apply_nodes if isinstance(n.op, CAReduce)]
    assert rewrites.unroll_short_reduction.transform(fgraph, node) is None
    x = pt.matrix("x", shape=(None, 2))
    fgraph = FunctionGraph([x], [x.sum(axis=1)], clone=True)
    (node,) = [n for n in fgraph.apply_nodes if isinstance(n.op, CAReduce)]
    assert rewrites.unroll_short_reduction.transform(fgraph, node) is not None


def test_same_elbo_trajectory_with_and_without_the_rewrites(monkeypatch):
    """A seeded scale-mixture MLP fit on wine (data no other test uses) gives the same loss per
    step whether or not the rewrites run."""
    from sklearn.datasets import load_wine

    from bnngallery import fit
    from bnngallery.models import mnist_mlp

    X, y = load_wine(return_X_y=True)

    def run():
        model = mnist_mlp.build_model(
            X, y, hidden=(8,), prior="scale-mixture", standardize="auto", dtype="float64", batch_size=32
        )
        r = fit(model, "advi", steps=200, draws=10, random_seed=1, progressbar=False, check_collapse=False)
        return r["fit_history"]["loss"].values

    lean = run()
    monkeypatch.setattr(jaxify, "lean_graph", pt_mode.JAX.optimizer.rewrite)
    plain = run()
    assert np.isfinite(lean).all()
    np.testing.assert_allclose(lean, plain, rtol=1e-7)
