"""Devices: the CPU count, XLA's host devices, the data-parallel mesh and multi-host start-up.

Everything here acts only when called. The CLI calls :func:`use_host_devices` and
:func:`init_distributed` before JAX starts; a library user who wants parallel NUTS chains
on CPU does the same (NumPyro's ``set_host_device_count`` is the same switch).

A cluster run is a configuration change: set ``BNNGALLERY_COORDINATOR`` (host:port of process
0), ``BNNGALLERY_NUM_PROCESSES`` and ``BNNGALLERY_PROCESS_ID`` on every host (or let JAX
detect a SLURM / Open MPI / Kubernetes job by setting ``BNNGALLERY_DISTRIBUTED=auto``), then
run the usual command. ``jax.devices()`` then lists every host's devices and the engine's
device mesh (``fit(..., devices=N)``) spans them.
"""

from __future__ import annotations

import os

import numpy as np

from ..provenance import cpu_count
from ..validation import check_positive_int


def use_host_devices(n: int | None = None) -> None:
    """Split the CPU into ``n`` XLA host devices (default: one per core) so NUTS chains run in parallel.

    Must be called before JAX initialises its backend; an ``XLA_FLAGS`` that already sets the
    host device count wins.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        n = cpu_count() if n is None else n
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={max(n, 1)}".strip()


def init_distributed(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> bool:
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
        raise ValueError(
            "A coordinator address needs BNNGALLERY_NUM_PROCESSES and BNNGALLERY_PROCESS_ID "
            "(or num_processes= and process_id=) on every process."
        )
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id
    )
    return True


def make_mesh(devices: int | None, rows: int | None):
    """A one-axis device mesh for data parallelism, or None for a single device.

    Returns ``(mesh, n_devices)``. ``devices=None`` takes every visible accelerator, 1 on
    CPU (where XLA already spreads one device over all cores).
    """
    import jax
    from jax.sharding import Mesh

    available = jax.devices()
    if devices is None:
        devices = 1 if available[0].platform == "cpu" else len(available)
    devices = check_positive_int(devices, name="devices")
    if devices > len(available):
        raise ValueError(
            f"devices={devices} but JAX sees {len(available)} device(s) ({available[0].platform}). On CPU, call "
            f"bnngallery.inference.devices.use_host_devices({devices}) (or set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={devices}) before JAX starts."
        )
    if devices == 1:
        return None, 1
    if rows is not None and rows % devices:
        raise ValueError(
            f"The batch of {rows} rows does not split evenly over {devices} devices; choose a batch_size "
            f"that is a multiple of {devices}."
        )
    return Mesh(np.array(available[:devices]), ("data",)), devices


def put(array, mesh, *, rows: bool):
    """Place ``array`` on the mesh: split by rows (full-batch data) or replicated."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    if mesh is None:
        return jax.device_put(array)
    spec = PartitionSpec("data") if rows and np.ndim(array) >= 1 else PartitionSpec()
    return jax.device_put(array, NamedSharding(mesh, spec))


def shard_rows(idx, mesh):
    """Constrain a batch's row indices to be split over the mesh (each device takes its share)."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    if mesh is None or idx is None:
        return idx
    return jax.lax.with_sharding_constraint(idx, NamedSharding(mesh, PartitionSpec("data")))
