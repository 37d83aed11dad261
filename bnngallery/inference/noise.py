"""The random numbers of an ADVI step: standard normals and minibatch rows from one JAX key.

:func:`step_noise` draws a step's randomness; :func:`threefry_bits` is JAX's threefry-2x32
hash written as plain array arithmetic, and :func:`normals_from_bits` turns its words into
standard normals, two per word. Kept apart from the variational families
(:mod:`bnngallery.inference.advi`), which only read the normals.
"""

from __future__ import annotations

import numpy as np

#: Columns of the 2-D block a step's random bits are drawn in (see :func:`step_noise`).
NOISE_ROW = 128


#: Threefry-2x32's rotations, alternating by group of four rounds (Salmon et al. 2011).
_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry_bits(key, shape):
    """``jax.random.bits(key, shape, uint32)`` (JAX's threefry-2x32 with partitionable
    counters: word ``i`` is the XOR of the hash of the counter ``(0, i)``), to the bit, for a
    raw ``uint32[2]`` key and fewer than 2**32 words.

    Written out because JAX lowers the hash on the CPU as a loop over its five groups of
    rounds, one pass over memory per group; written as plain array arithmetic, XLA fuses
    the twenty rounds into one pass, which is faster (``benchmarks/advi_speed.py`` times
    the step).
    """
    import jax
    import jax.numpy as jnp

    k0, k1 = key[0], key[1]
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    x0 = jnp.broadcast_to(ks[0], shape)  # the counter's high word is 0
    x1 = jax.lax.iota(jnp.uint32, int(np.prod(shape))).reshape(shape) + ks[1]
    for group in range(5):
        for r in _THREEFRY_ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = x0 ^ ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r)))
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return x0 ^ x1


def normals_from_bits(bits):
    """Two standard normals from each 32-bit word of ``bits``, one from each 16-bit half, by
    the inverse normal distribution function (as ``jax.random.normal`` does from 23 bits):
    ``bits`` of shape (r, c) gives (2 r, c) float32.

    A half ``k`` stands for the uniform ``(k + 1/2) / 2**16``, symmetric about 1/2, so the
    draws have mean zero, never reach infinity and stop at 4.33 sd (the normal has 1.5e-5 of
    its mass beyond; their variance is 0.9997).
    """
    import jax
    import jax.numpy as jnp

    halves = jnp.concatenate([bits >> 16, bits & 0xFFFF]).astype(jnp.float32)
    # 2 u - 1 on (-1, 1), then sqrt(2) erfinv: the normal quantile of u
    centred = halves * np.float32(2.0**-15) + np.float32(2.0**-16 - 1.0)
    return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(centred)


def step_noise(key, dtype, *, dim: int, mc_samples: int, batch_size: int | None, n_rows: int | None):
    """The randomness of one step from its key: the next key, the ELBO's standard normals
    ``(mc_samples, dim)`` and the minibatch rows (None without a minibatch).

    On the CPU, with ``jax.random.normal``, JAX's threefry hash is most of a step's cost
    beyond the network's own pass (``benchmarks/advi_speed.py`` times the step). So the
    normals come two per 32-bit word (:func:`normals_from_bits`: half the hashing; the
    gradient noise of ADVI needs no more than 16-bit uniforms) hashed by
    :func:`threefry_bits`, in a block shaped in rows of :data:`NOISE_ROW`: XLA's CPU
    backend spreads a 2-D block over threads and vector lanes far better than a long 1-D
    one. The next key, the normals and the rows each have a key of their own from
    ``jax.random.split``. Drawing the rows and the next key from the normals' block instead,
    one hash call fewer, made fits worse for a reason not found (the draws passed every test
    of independence tried): a six-feature imbalanced classifier (``tests/test_reuse.py``)
    ended at the majority class in most seeded fits, and in few with separate keys.
    """
    import jax

    key, k_eps, k_idx = jax.random.split(key, 3)
    n = mc_samples * dim
    # Two barriers keep XLA from fusing what it would then compute more than once: the
    # hash, into the concatenation of each word's two halves; the inverse error function,
    # into each of the five or so elementwise passes that read a draw. A barrier on the
    # normals after the reshape and slice instead is far slower (``benchmarks/advi_speed.py``
    # times the step).
    bits = jax.lax.optimization_barrier(threefry_bits(k_eps, (-(-n // (2 * NOISE_ROW)), NOISE_ROW)))
    normals = jax.lax.optimization_barrier(normals_from_bits(bits))
    eps = normals.reshape(-1)[:n].reshape(mc_samples, dim).astype(dtype)
    idx = jax.random.randint(k_idx, (batch_size,), 0, n_rows) if batch_size is not None else None
    return key, eps, idx
