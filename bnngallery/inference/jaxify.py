"""Turn a PyMC model into JAX functions with the data as explicit inputs.

The JAX ADVI engine and the predictor both need the model's graph as a pure JAX
function. PyMC's own helper bakes every ``pm.Data`` container into the compiled code as
a constant; here the containers become arguments instead, so the data sit on the device
once and a minibatch is chosen by an index vector drawn on the device. A ``pm.Minibatch``
in the graph is rewritten to ``full_data[idx]``, which keeps PyMC's ``total_size``
scaling exact: the scale is computed from the batch's length.

The functions returned compute in whatever precision JAX is in when they are traced; run
them inside :func:`bnngallery.inference.precision.precision_scope` (float64 for PyMC's own
precision). Every caller in the package does, so none relies on the 64-bit mode that
PyTensor's JAX backend switches on for the process when it is first imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.data import MinibatchOp
from pymc.variational.minibatch_rv import MinibatchRandomVariable
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph import FunctionGraph
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import ancestors, graph_inputs
from pytensor.tensor.random.type import RandomType

from .rewrites import lean_graph


@dataclass
class JaxGraph:
    """A jaxified model graph and what its inputs are.

    Call ``fn(*params, *data, [idx])``, where ``params`` follow ``param_names``, ``data``
    are ``data_values`` (or replacements of the same shapes) and ``idx`` is present only
    when ``batch_size`` is not None.
    """

    fn: Callable[..., Any]
    param_names: list[str]
    param_shapes: list[tuple[int, ...]]
    data_names: list[str]
    data_values: list[np.ndarray]
    batch_size: int | None = None
    n_rows: int | None = None
    output_names: list[str] = field(default_factory=list)

    def logp(self, values, data, rows=None):
        """The first output (a log density graph's only one) at parameter ``values`` on
        ``data``, on the minibatch ``rows`` where the graph has one: the one closure the
        ADVI loop, SG-MCMC and the exact full-data density all call."""
        return self.fn(*values, *data, *(() if rows is None else (rows,)))[0]


def minibatch_nodes(outputs) -> list:
    """The ``pm.Minibatch`` nodes that ``outputs`` depend on."""
    return [v.owner for v in ancestors(outputs) if v.owner is not None and isinstance(v.owner.op, MinibatchOp)]


def replace_minibatch(outputs):
    """Rewrite the (single) ``pm.Minibatch`` feeding ``outputs`` as ``data[idx]``.

    Returns ``(new_outputs, idx, batch_size, n_rows)``; ``idx`` is None without a
    minibatch, ``n_rows`` is the number of rows the batches are drawn from.
    """
    nodes = list(dict.fromkeys(minibatch_nodes(outputs)))
    if not nodes:
        return list(outputs), None, None, None
    # model.logp() clones the graph, so one pm.Minibatch can show up as several nodes
    # with the same inputs; those are one batch and must share one index vector.
    if len({tuple(node.inputs) for node in nodes}) > 1:
        raise ValueError(
            "The model has more than one pm.Minibatch; wrap all minibatched data in one "
            "pm.Minibatch(X, y, batch_size=...) call so their rows stay paired."
        )
    first = nodes[0].outputs[0]
    batch_size = first.type.shape[0]
    if batch_size is None:  # the static size is lost only for unusual graphs
        raise ValueError("Could not read the minibatch size from the model graph.")
    idx = pt.lvector("minibatch_idx")
    replacements = {}
    for node in nodes:
        *full, _rng = node.inputs
        *batched, _rng_update = node.outputs
        replacements.update({b: f[idx] for b, f in zip(batched, full, strict=True)})
    n_rows = int(nodes[0].inputs[0].shape[0].eval())
    return clone_replace(list(outputs), replace=replacements), idx, int(batch_size), n_rows


def _data_inputs(model: pm.Model, outputs):
    """Replace the model's ``pm.Data`` containers by fresh symbolic inputs.

    Other shared variables (the lengths of named dims) become constants.
    """
    data_containers = {v for v in model.named_vars.values() if isinstance(v, SharedVariable)}
    shared = [v for v in graph_inputs(outputs) if isinstance(v, SharedVariable)]
    if any(isinstance(v.type, RandomType) for v in shared):
        raise ValueError(
            "The graph still draws random numbers (a random variable that is not part of the model, "
            "or a second pm.Minibatch); it cannot be turned into a deterministic log density."
        )
    names, values, new_inputs, replacements = [], [], [], {}
    for var in shared:
        if var in data_containers:
            new = var.type()
            new.name = var.name
            replacements[var] = new
            names.append(var.name)
            values.append(np.asarray(var.get_value(borrow=True)))
            new_inputs.append(new)
        else:
            replacements[var] = pt.constant(var.get_value(borrow=True))
    return replacements, names, values, new_inputs


def jax_dispatch():
    """PyTensor's JAX dispatcher, with the gallery's own Ops registered (the CNN's ``Conv2D``).

    Imported on first use, not at the top: importing PyTensor's JAX backend switches JAX's
    64-bit mode on for the whole process (PyTensor's choice), which importing bnngallery
    must not do.
    """
    from ..models.conv_ops import register_jax

    return register_jax()


def jaxify(model: pm.Model, inputs, outputs):
    """Compile ``outputs`` of ``inputs`` (plus the model's data) to one JAX function.

    Returns ``(fn, data_names, data_values, batch_size, n_rows)``; the data containers are
    sorted by name so callers see a stable argument order.
    """
    outputs, idx, batch_size, n_rows = replace_minibatch(outputs)
    replacements, data_names, data_values, data_inputs = _data_inputs(model, outputs)
    order = sorted(range(len(data_names)), key=data_names.__getitem__)
    data_names = [data_names[i] for i in order]
    data_values = [data_values[i] for i in order]
    data_inputs = [data_inputs[i] for i in order]
    outputs = clone_replace(outputs, replace=replacements)
    all_inputs = [*inputs, *data_inputs, *([idx] if idx is not None else [])]
    fgraph = FunctionGraph(inputs=all_inputs, outputs=outputs, clone=True)
    jax_funcify = jax_dispatch()
    lean_graph(fgraph)
    with warnings.catch_warnings():
        # Value checks (e.g. 0 <= p <= 1) cannot run inside a traced JAX function; the
        # builders validate data up front instead.
        warnings.filterwarnings("ignore", message="Skipping .* Op .* as JAX tracing would remove it")
        fn = jax_funcify(fgraph)
    return fn, data_names, data_values, batch_size, n_rows


def require_observed(model: pm.Model) -> None:
    """Refuse a model without observed data: there is nothing to fit."""
    if not model.observed_RVs:
        raise ValueError(
            "The model has no observed data (no variable with observed=...), so there is nothing to "
            "fit. Give its likelihood observed=data; a gallery builder called with y=None makes a "
            "model for prediction only."
        )


def ops_without_jax(model: pm.Model) -> list[str]:
    """The Ops of ``model``'s log density that PyTensor cannot convert to JAX (a custom Op with
    no ``jax_funcify`` registration), by name. The outer graph only: an Op inside a Scan's or
    OpFromGraph's inner graph is found when the graph is converted."""
    from pytensor.graph.traversal import applys_between
    from pytensor.tensor.random.op import RandomVariable

    dispatch = jax_dispatch()
    missing = dispatch.dispatch(object)
    logp = model.logp()
    names = []
    for node in applys_between(graph_inputs([logp]), [logp]):
        op = node.op
        if isinstance(op, MinibatchOp | RandomVariable):  # the minibatch rows: jaxify rewrites them
            continue
        if dispatch.dispatch(type(op)) is missing and type(op).__name__ not in names:
            names.append(type(op).__name__)
    return names


def require_jax_ops(model: pm.Model, what: str, alternatives: str) -> None:
    """Refuse, before anything compiles, a model whose log density holds an Op with no JAX
    conversion, naming the Op and the ways that can fit the model."""
    names = ops_without_jax(model)
    if names:
        raise NotImplementedError(
            f"The model's log density holds {', '.join(names)}, which PyTensor cannot convert to JAX, "
            f"so {what} cannot compile it. {alternatives} Or give the Op a JAX conversion with "
            "pytensor.link.jax.dispatch.jax_funcify.register."
        )


def logp_graph(model: pm.Model) -> JaxGraph:
    """The model's joint log density (priors, Jacobians, scaled likelihood) as a JAX function.

    Parameters are the model's value variables, i.e. on the unconstrained space.
    """
    require_observed(model)
    value_vars = model.value_vars
    logp = model.logp()
    fn, data_names, data_values, batch_size, n_rows = jaxify(model, value_vars, [logp])
    ip = model.initial_point()
    return JaxGraph(
        fn=fn,
        param_names=[v.name for v in value_vars],
        param_shapes=[tuple(np.shape(ip[v.name])) for v in value_vars],
        data_names=data_names,
        data_values=data_values,
        batch_size=batch_size,
        n_rows=n_rows,
        output_names=["logp"],
    )


def data_dependent(model: pm.Model, var) -> bool:
    """True when ``var`` depends on a data container (so its size grows with the data)."""
    data_containers = {v for v in model.named_vars.values() if isinstance(v, SharedVariable)}
    if any(inp in data_containers and inp.name not in model.dim_lengths for inp in graph_inputs([var])):
        return True
    return bool(minibatch_nodes([var]))


def posterior_var_names(model: pm.Model) -> list[str]:
    """Free random variables and the deterministics that do not grow with the data."""
    names = [rv.name for rv in model.free_RVs]
    names += [d.name for d in model.deterministics if not data_dependent(model, d)]
    return names


def constrain_graph(model: pm.Model, var_names: list[str] | None = None) -> JaxGraph:
    """Map unconstrained value variables to the named free RVs and deterministics."""
    var_names = var_names or posterior_var_names(model)
    # unobserved_value_vars gives constrained values of free RVs and deterministics,
    # written in terms of the (unconstrained) value variables.
    outs = {v.name: v for v in model.unobserved_value_vars}
    missing = [n for n in var_names if n not in outs]
    if missing:
        raise ValueError(f"Unknown variable(s) {missing}; the model has {sorted(outs)}.")
    outputs = [outs[n] for n in var_names]
    fn, data_names, data_values, batch_size, _ = jaxify(model, model.value_vars, outputs)
    ip = model.initial_point()
    return JaxGraph(
        fn=fn,
        param_names=[v.name for v in model.value_vars],
        param_shapes=[tuple(np.shape(ip[v.name])) for v in model.value_vars],
        data_names=data_names,
        data_values=data_values,
        batch_size=batch_size,
        output_names=list(var_names),
    )


def forward_graph(model: pm.Model, output: str) -> JaxGraph:
    """``output`` (a Deterministic) as a function of the constrained free RVs and the data.

    Used for prediction: posterior draws of the free RVs go in as they are stored.
    """
    if output not in model.named_vars:
        raise ValueError(
            f"output={output!r} is not a variable of the model; choose one of its Deterministics, "
            f"{sorted(v.name for v in model.deterministics)}."
        )
    var = model[output]
    upstream = set(ancestors([var]))
    rvs = [rv for rv in model.free_RVs if rv in upstream]
    placeholders, replace = _constrained_placeholders(model, rvs)
    (out,) = clone_replace([var], replace=replace)
    if minibatch_nodes([out]):
        raise ValueError(
            "This model was built with batch_size, so its output only covers a random batch. "
            "Predict with the builder (predict(build_model, result, X_new)) or a model built "
            "with batch_size=None."
        )
    return _constrained_graph(model, [out], rvs, [output], placeholders=placeholders)


def _constrained_placeholders(model: pm.Model, rvs) -> tuple[list, dict]:
    """One symbolic input per free RV, named after it, and the replacement RV -> input."""
    placeholders = [rv.type() for rv in rvs]
    for ph, rv in zip(placeholders, rvs, strict=True):
        ph.name = rv.name
    return placeholders, dict(zip(rvs, placeholders, strict=True))


def _constrained_graph(model: pm.Model, outputs, rvs, output_names, placeholders=None) -> JaxGraph:
    """``outputs`` as a JAX function of one input per RV of ``rvs`` (``placeholders`` if the
    outputs are already written in them, else the RVs are replaced)."""
    if placeholders is None:
        placeholders, replace = _constrained_placeholders(model, rvs)
        outputs = clone_replace(list(outputs), replace=replace)
    outs = list(outputs)
    fn, data_names, data_values, batch_size, n_rows = jaxify(model, placeholders, outs)
    ip = model.initial_point()
    return JaxGraph(
        fn=fn,
        param_names=[rv.name for rv in rvs],
        param_shapes=[tuple(np.shape(ip[model.rvs_to_values[rv].name])) for rv in rvs],
        data_names=data_names,
        data_values=data_values,
        batch_size=batch_size,
        n_rows=n_rows,
        output_names=list(output_names),
    )


def loglik_graph(model: pm.Model) -> JaxGraph:
    """The log-likelihood of each observation, untempered and unscaled (``log p(y_i | theta)``
    for every observed variable, elementwise), as a function of the constrained free RVs.

    On a minibatch model the function takes the row indices as its last argument and
    evaluates those rows of the full data (``n_rows`` of them in all), exactly
    ``batch_size`` indices per call (the graph keeps the batch's static shape).
    """
    require_observed(model)
    obs = list(model.observed_RVs)
    terms = [pm.logp(_unscaled(rv), model.rvs_to_values[rv]) for rv in obs]
    return _constrained_graph(model, terms, list(model.free_RVs), [rv.name for rv in obs])


def _unscaled(rv):
    """The observed variable without PyMC's ``total_size`` wrapper (which scales its log density)."""
    return rv.owner.inputs[0] if isinstance(rv.owner.op, MinibatchRandomVariable) else rv


def prior_graph(model: pm.Model) -> JaxGraph:
    """The log prior density in the unconstrained space (the priors plus the Jacobians of the
    value transforms) and the unconstrained value of each free RV, as functions of the
    constrained free RVs. Outputs: ``["logprior", *value variable names]``. With the
    likelihood (:func:`loglik_graph`, weighted by :func:`likelihood_weights`) it gives the
    joint density a variational fit approximates, at draws stored in a result.
    """
    rvs = list(model.free_RVs)
    placeholders, replace = _constrained_placeholders(model, rvs)
    unconstrained = []
    for rv, ph in zip(rvs, placeholders, strict=True):
        transform = model.rvs_to_transforms.get(rv)
        if transform is None:
            unconstrained.append(ph)
        else:  # the transform's parameters (an interval's bounds) may depend on other RVs
            inputs = clone_replace(list(rv.owner.inputs), replace=replace)
            unconstrained.append(transform.forward(ph, *inputs))
    value_vars = [model.rvs_to_values[rv] for rv in rvs]
    (logprior,) = clone_replace(
        [model.logp(vars=rvs, jacobian=True)], replace=dict(zip(value_vars, unconstrained, strict=True))
    )
    names = ["logprior", *(v.name for v in value_vars)]
    return _constrained_graph(model, [logprior, *unconstrained], rvs, names, placeholders=placeholders)


def likelihood_weights(model: pm.Model) -> dict[str, float]:
    """The weight of each observed variable's summed log-likelihood in the model's full-data
    log density: ``total_size / rows`` where a builder set ``total_size`` (a posterior
    temperature T gives 1 / T), else 1."""
    weights = {}
    for rv in model.observed_RVs:
        # total_size of a 2-D observation comes as (rows, None): the None has no ndim
        totals = (
            [t for t in rv.owner.inputs[1:] if getattr(t.type, "ndim", None) == 0] if _unscaled(rv) is not rv else []
        )
        if not totals:
            weights[rv.name] = 1.0
            continue
        weights[rv.name] = float(totals[0].eval()) / observed_shape(model, rv)[0]
    return weights


def observed_shape(model: pm.Model, rv) -> tuple[int, ...]:
    """The shape of the full data behind observed variable ``rv``: a minibatch's rows are
    those of the data ``pm.Minibatch`` draws from."""
    value = model.rvs_to_values[rv]
    shape = [int(s) for s in value.shape.eval()]
    batches = minibatch_nodes([value])
    if batches and shape:
        shape[0] = int(batches[0].inputs[0].shape[0].eval())
    return tuple(shape)
