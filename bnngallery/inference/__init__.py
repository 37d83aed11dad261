"""Inference: a PyMC graph turned into JAX (:mod:`.jaxify`), the ADVI engine (:mod:`.advi`:
variational families, state and pure init/step/sample; :mod:`.advi_loop`: the compiled loop),
PyMC's own samplers (:mod:`.pymc_backend`), precision (:mod:`.precision`) and devices
(:mod:`.devices`).

Nothing here builds a result file or knows a model family: :func:`bnngallery.fit` does.
"""
