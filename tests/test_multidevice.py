"""Data-parallel ADVI and NUTS chains on two (forced) CPU devices.

XLA must see two host devices before JAX starts, so each check runs in a fresh Python
process with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest


def run_with_two_devices(code: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_device_advi_matches_one_device():
    res = run_with_two_devices("""
        import json, numpy as np, jax
        from bnngallery import fit
        from bnngallery.data import make_moons_data
        from bnngallery.models import moons
        d = make_moons_data()
        out = {"n_devices": len(jax.devices())}
        for n in (1, 2):
            m = moons.build_model(d.X_train, d.y_train, batch_size=50)
            r = fit(m, "advi", steps=2000, draws=10, devices=n, progressbar=False)
            out[n] = {"loss": r["fit_history"]["loss"].values.tolist(),
                      "mean": r["approximation"]["w_1_mean"].values.ravel().tolist(), "device": r.attrs["device"]}
        print(json.dumps(out))
    """)
    import numpy as np

    assert res["n_devices"] == 2
    assert res["2"]["device"] == "cpu:0, cpu:1" and res["1"]["device"] == "cpu:0"
    # same seed, same global batch: the same trajectory up to the order of float sums
    np.testing.assert_allclose(res["2"]["loss"], res["1"]["loss"], rtol=1e-9)
    np.testing.assert_allclose(res["2"]["mean"], res["1"]["mean"], rtol=1e-7, atol=1e-9)


def test_two_device_minibatch_scaling_and_batch_split_check():
    res = run_with_two_devices("""
        import json, numpy as np
        from bnngallery import fit
        from bnngallery.data import make_moons_data
        from bnngallery.models import moons
        d = make_moons_data()
        msg = ""
        try:
            fit(moons.build_model(d.X_train, d.y_train, batch_size=51), "advi", steps=10, devices=2, progressbar=False)
        except ValueError as err:
            msg = str(err)
        # full-batch on 2 devices: rows split, the ELBO still the full-data one
        r1 = fit(moons.build_model(d.X_train, d.y_train), "advi", steps=300, draws=5, devices=1, progressbar=False)
        r2 = fit(moons.build_model(d.X_train, d.y_train), "advi", steps=300, draws=5, devices=2, progressbar=False)
        print(json.dumps({"msg": msg, "l1": r1["fit_history"]["loss"].values.tolist(),
                          "l2": r2["fit_history"]["loss"].values.tolist()}))
    """)
    import numpy as np

    assert "multiple of 2" in res["msg"]
    np.testing.assert_allclose(res["l2"], res["l1"], rtol=1e-9)


def test_nuts_chains_run_one_per_device():
    res = run_with_two_devices("""
        import json, numpy as np, pymc as pm
        from bnngallery import fit
        with pm.Model() as m:
            mu = pm.Normal("mu", 0, 10)
            pm.Normal("obs", mu, 1, observed=np.arange(10.0))
        r = fit(m, "nuts", draws=200, tune=200, chains=2, progressbar=False)
        print(json.dumps({"settings": json.loads(r.attrs["settings"]), "chains": r.posterior.sizes["chain"]}))
    """)
    assert res["settings"]["chain_method"] == "parallel" and res["chains"] == 2


def test_asking_for_more_devices_than_visible_is_a_clear_error(moons_data):
    from bnngallery import fit
    from bnngallery.models import moons

    with pytest.raises(ValueError, match="xla_force_host_platform_device_count=3"):
        fit(moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50), "advi", steps=10, devices=3)


def test_two_processes_form_one_jax_cluster_through_the_env_settings(tmp_path):
    """The multi-host path on one machine: two processes, a coordinator on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = textwrap.dedent("""
        import json
        from bnngallery.inference.devices import init_distributed
        started = init_distributed()
        import jax
        print(json.dumps({"started": started, "processes": jax.process_count(), "devices": len(jax.devices()),
                          "local": len(jax.local_devices()), "index": jax.process_index()}))
    """)
    procs = []
    for i in range(2):
        env = {
            **os.environ,
            "BNNGALLERY_COORDINATOR": f"127.0.0.1:{port}",
            "BNNGALLERY_NUM_PROCESSES": "2",
            "BNNGALLERY_PROCESS_ID": str(i),
            "PYTHONWARNINGS": "ignore",
            # one CPU device per process, whatever an earlier in-process CLI call exported
            "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["index"] for r in results) == [0, 1]
    assert all(r["started"] and r["processes"] == 2 for r in results), results
    assert all(r["devices"] == 2 and r["local"] == 1 for r in results), results


def test_distributed_needs_all_three_settings(monkeypatch):
    from bnngallery.inference.devices import init_distributed

    monkeypatch.delenv("BNNGALLERY_COORDINATOR", raising=False)
    monkeypatch.delenv("BNNGALLERY_DISTRIBUTED", raising=False)
    assert init_distributed() is False  # nothing configured: single process, nothing started
    with pytest.raises(ValueError, match="BNNGALLERY_NUM_PROCESSES and BNNGALLERY_PROCESS_ID"):
        init_distributed(coordinator_address="127.0.0.1:1")
