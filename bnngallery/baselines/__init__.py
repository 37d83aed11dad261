"""Non-PyMC comparisons: the dropout network of article E (:mod:`.dropout_ode`)."""
