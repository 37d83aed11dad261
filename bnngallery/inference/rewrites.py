"""PyTensor rewrites that make a model's graph cheaper for XLA before it is turned into JAX.

PyTensor's own JAX mode rewrites a graph for correctness and the usual algebra; these add
what XLA's CPU backend needs to run a log density over hundreds of thousands of weights
without waste. They are applied by :func:`bnngallery.inference.jaxify.jaxify` to every
graph the package compiles (log density, constrained draws, predictions, likelihoods),
so every model gets them, whatever builder wrote it.

- **Short reductions unrolled.** A sum, product, max or min over an axis of static length
  at most :data:`SHORT_AXIS` becomes elementwise arithmetic on its slices. A mixture's
  log density is a log-sum-exp over its components: for a two-component scale-mixture
  prior it reduces an axis of length 2 per weight, which XLA runs as a reduction kernel
  (and, in the gradient, reduces again) over arrays twice the weights' size. Unrolled, the
  whole prior is one elementwise pass.
- **Indexing lifted through elementwise operations.** ``f(x, y)[..., i]`` becomes
  ``f(x[..., i], y[..., i])`` when every use of ``f(x, y)`` is such an index on the same
  axis, so the component axis disappears from the graph altogether rather than being
  built and sliced (PyTensor's own lift skips an expression used more than once).
- **Parameter checks removed.** ``CheckParameterValue`` (``sigma > 0`` and the like)
  cannot run inside traced JAX code, and PyTensor's JAX conversion drops it anyway; removed
  first, it no longer stands between the indexing and the arithmetic it must be lifted
  through.

Each rewrite keeps the graph's values: the log density, its gradient and so an ADVI fit's
ELBO trajectory are the same up to float rounding (tested in ``tests/test_rewrites.py``).
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from pymc.logprob.utils import local_remove_check_parameter
from pytensor import scalar as ps
from pytensor.compile import mode as pt_mode
from pytensor.graph import FunctionGraph
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import EquilibriumGraphRewriter, in2out, node_rewriter
from pytensor.tensor.elemwise import CAReduce, Elemwise
from pytensor.tensor.rewriting.subtensor_lift import local_subtensor_of_expand_dims
from pytensor.tensor.subtensor import Subtensor, indices_from_subtensor

#: The longest axis whose reduction is unrolled into elementwise operations.
SHORT_AXIS = 4

_BINARY = {ps.Add: pt.add, ps.Mul: pt.mul, ps.Maximum: pt.maximum, ps.Minimum: pt.minimum}


@node_rewriter([CAReduce])
def unroll_short_reduction(fgraph, node):
    """``sum(x, axis=a)`` -> ``x[.., 0] + x[.., 1] + ...`` for a float ``x`` whose axis ``a``
    has a static length of at most :data:`SHORT_AXIS` (likewise product, max and min; a max's
    ``initial=-inf`` only matters on an empty axis)."""
    op, (x,) = node.op, node.inputs
    combine = _BINARY.get(type(op.scalar_op))
    axes = tuple(range(x.ndim)) if op.axis is None else tuple(op.axis)
    if combine is None or len(axes) != 1 or not x.type.dtype.startswith("float"):
        return None
    (axis,) = axes
    length = x.type.shape[axis]
    if length is None or not 1 <= length <= SHORT_AXIS:
        return None
    parts = [x[(slice(None),) * axis + (i,)] for i in range(length)]
    return [pt.cast(functools.reduce(combine, parts), node.outputs[0].dtype)]


def _single_index(node) -> tuple[int, int] | None:
    """``(axis, i)`` when ``node`` indexes one axis at a constant position and keeps the others whole."""
    if not isinstance(node.op, Subtensor):
        return None
    index = indices_from_subtensor(node.inputs[1:], node.op.idx_list)
    picks = [(axis, i) for axis, i in enumerate(index) if not (isinstance(i, slice) and i == slice(None))]
    if len(picks) != 1:
        return None
    axis, i = picks[0]
    if isinstance(i, Constant):
        i = i.data
    if not isinstance(i, (int, np.integer)) or i < 0:
        return None
    return axis, int(i)


@node_rewriter([Subtensor])
def lift_index_through_elemwise(fgraph, node):
    """``f(x, y)[.., i]`` -> ``f(x[.., i], y[.., i])`` (index 0 of an input broadcast along
    that axis) when every client of ``f(x, y)`` indexes the same axis at a constant position."""
    pick = _single_index(node)
    x = node.inputs[0]
    if pick is None or x.owner is None or not isinstance(x.owner.op, Elemwise):
        return None
    axis, i = pick
    for client, _ in fgraph.clients[x]:
        other = _single_index(client) if not isinstance(client.op, str) else None
        if other is None or other[0] != axis:
            return None
    lead = (slice(None),) * axis
    inputs = [inp[(*lead, 0 if inp.type.broadcastable[axis] else i)] for inp in x.owner.inputs]
    lifted = x.owner.op.make_node(*inputs).outputs[x.owner.outputs.index(x)]
    return [pt.cast(lifted, node.outputs[0].dtype)]


def lean_graph(fgraph: FunctionGraph) -> None:
    """Rewrite ``fgraph`` in place for XLA: checks removed, short reductions unrolled and
    their indexing lifted (see the module docstring), then PyTensor's JAX-mode rewrites.

    PyTensor's rewrites run once before the new ones too: they work out the static shapes
    that tell a short axis.
    """
    in2out(local_remove_check_parameter).rewrite(fgraph)
    pt_mode.JAX.optimizer.rewrite(fgraph)
    EquilibriumGraphRewriter(
        [unroll_short_reduction, lift_index_through_elemwise, local_subtensor_of_expand_dims],
        max_use_ratio=50,
    ).rewrite(fgraph)
    pt_mode.JAX.optimizer.rewrite(fgraph)
