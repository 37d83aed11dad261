"""Diagnostics of fitted models: predictive scores (:mod:`.metrics`), classifier uncertainty,
calibration and OOD detection (:mod:`.uncertainty`), Pareto k-hat of ADVI fits (:mod:`.khat`),
MCMC convergence (:mod:`.mcmc`), the method comparison table (:mod:`.compare`) and what a
network's weights learned: hierarchical scales and pruned weights (:mod:`.weights`)."""
