"""Inference: the registry of fit methods (:mod:`.methods`: one module and one record each),
a PyMC graph turned into JAX (:mod:`.jaxify`), the ADVI engine (:mod:`.advi`: variational
families, state and pure init/step/sample; :mod:`.noise`: its random numbers; :mod:`.advi_loop`:
the compiled loop), the other approximations on the same log density, PyMC's own samplers
(:mod:`.pymc_backend`), the one output every fitter returns and its assembly into a result
(:mod:`.output`), precision (:mod:`.precision`) and devices (:mod:`.devices`).

Nothing here knows a gallery model family; :func:`bnngallery.fit` checks a call and runs a
method's record.
"""
