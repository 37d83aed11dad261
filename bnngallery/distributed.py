"""Multi-host start-up: the same ADVI code on a cluster, after ``jax.distributed.initialize``.

A cluster run is a configuration change: set ``BNNGALLERY_COORDINATOR`` (host:port of process
0), ``BNNGALLERY_NUM_PROCESSES`` and ``BNNGALLERY_PROCESS_ID`` on every host (or let JAX
detect a SLURM / Open MPI / Kubernetes job by setting ``BNNGALLERY_DISTRIBUTED=auto``), then
run the usual command. ``jax.devices()`` then lists every host's devices and the engine's
device mesh (``fit(..., devices=N)``) spans them.
"""

from __future__ import annotations

import os


def init_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None) -> bool:
    """Start JAX's multi-process runtime if configured; return True when it was started.

    Arguments override the ``BNNGALLERY_*`` environment variables. Must run before any JAX
    computation.
    """
    import jax

    env = os.environ
    coordinator_address = coordinator_address or env.get("BNNGALLERY_COORDINATOR")
    if num_processes is None and env.get("BNNGALLERY_NUM_PROCESSES"):
        num_processes = int(env["BNNGALLERY_NUM_PROCESSES"])
    if process_id is None and env.get("BNNGALLERY_PROCESS_ID"):
        process_id = int(env["BNNGALLERY_PROCESS_ID"])
    if coordinator_address is None and env.get("BNNGALLERY_DISTRIBUTED") != "auto":
        return False
    if coordinator_address is not None and (num_processes is None or process_id is None):
        raise ValueError("A coordinator address needs BNNGALLERY_NUM_PROCESSES and BNNGALLERY_PROCESS_ID "
                         "(or num_processes= and process_id=) on every process.")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)
    return True
