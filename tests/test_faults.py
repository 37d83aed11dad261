"""Faults a hostile user meets first: each refused at its root with a message that names the
argument and the fix, or handled correctly (issue: "no silent wrong answer").

- a masked array's mask, an X without columns, ``bias="no"``: refused by the builders'
  shared validators (:mod:`bnngallery.validation`) instead of read silently;
- a discrete free variable: refused by ``fit`` before compiling, for every method;
- ``predict(draws=0)`` and a posterior holding NaN: refused by ``predict``;
- files the package writes: the mode the umask gives, not mkstemp's 0600.
"""

from __future__ import annotations

import os

import numpy as np
import pymc as pm
import pytest

from bnngallery import fit, load_result, predict, save_result
from bnngallery.models import mnist_mlp, moons, regression

X4 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [1.0, 2.0]])
Y4 = np.array([0, 1, 0, 1])


@pytest.fixture(scope="module")
def fitted():
    model = moons.build_model(X4, Y4)
    return fit(model, "advi", steps=50, draws=20, progressbar=False, check_collapse=False)


@pytest.mark.parametrize(
    "builder,args,argument,fragment",
    [
        (moons.build_model, (np.ma.masked_array(X4, mask=X4 > 1.5), Y4), "X", "masked"),
        (regression.build_model, (X4, np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])), "y", "masked"),
        (mnist_mlp.build_model, (X4, np.ma.masked_array(Y4, mask=[1, 0, 0, 0])), "y", "masked"),
        (moons.build_model, (np.zeros((4, 0)), Y4), "X", "no feature columns"),
        (regression.build_model, (np.zeros((4, 0)), np.zeros(4)), "X", "no feature columns"),
    ],
    ids=["masked X", "masked regression y", "masked labels", "X without columns", "regression X without columns"],
)
def test_builders_refuse_data_they_would_misread(builder, args, argument, fragment):
    with pytest.raises(ValueError) as info:
        builder(*args)
    message = str(info.value)
    assert message.startswith(argument + " ") and fragment in message


def test_a_masked_array_with_nothing_masked_is_its_data():
    a = moons.build_model(np.ma.masked_array(X4, mask=np.zeros_like(X4, dtype=bool)), Y4)
    b = moons.build_model(X4, Y4)
    np.testing.assert_array_equal(a["X"].get_value(), b["X"].get_value())


@pytest.mark.parametrize("method", ["advi", "fullrank_advi", "nuts"])
def test_fit_refuses_a_discrete_free_variable_before_compiling(method):
    with pm.Model() as model:
        z = pm.Bernoulli("z", 0.5)
        pm.Normal("y", 2.0 * z, 1.0, observed=np.array([1.0, 2.0]))
    with pytest.raises(ValueError) as info:
        fit(model, method, **({} if method == "nuts" else {"steps": 10}))
    message = str(info.value)
    assert "['z']" in message and "discrete" in message and "marginalize" in message


@pytest.mark.parametrize("draws", [0, -1, 2.5])
def test_predict_names_a_bad_draws(fitted, draws):
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        predict(moons.build_model, fitted, X4, draws=draws)


def test_predict_refuses_a_posterior_with_nan(fitted):
    broken = fitted.copy(deep=True)
    w = broken["posterior"]["w_in"]
    broken["posterior"]["w_in"] = w.where(w.draw != 3)  # one draw's weights become NaN
    with pytest.raises(ValueError) as info:
        predict(moons.build_model, broken, X4)
    assert "'w_in'" in str(info.value) and "NaN" in str(info.value)
    # the undamaged result still predicts
    assert np.isfinite(predict(moons.build_model, fitted, X4)).all()


def test_written_files_follow_the_umask(fitted, tmp_path):
    old = os.umask(0o027)
    try:
        path = save_result(fitted, tmp_path / "fit.nc")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert load_result(path).attrs["method"] == fitted.attrs["method"]


def test_a_result_file_with_flipped_bytes_is_refused(fitted, tmp_path):
    """Flip one byte inside the stored posterior draws: the file still opens, but its content
    no longer matches the digest written with it, so load_result refuses it."""
    from bnngallery.results import ResultFormatError

    path = save_result(fitted, tmp_path / "fit.nc")
    raw = bytearray(path.read_bytes())
    block = np.ascontiguousarray(fitted["posterior"]["w_in"].values).tobytes()[:16]
    at = bytes(raw).find(block)
    assert at > 0, "the draws were not found in the file"
    raw[at + 3] ^= 0xFF
    damaged = tmp_path / "damaged.nc"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ResultFormatError, match="damaged"):
        load_result(damaged)
    intact = load_result(path)  # the undamaged file loads and predicts as the result did
    np.testing.assert_array_equal(predict(moons.build_model, intact, X4), predict(moons.build_model, fitted, X4))


def test_predict_refuses_a_model_built_with_other_settings(fitted):
    other = moons.build_model(X4, Y4, activation="relu")
    with pytest.raises(ValueError) as info:
        predict(other, fitted, X4)
    message = str(info.value)
    assert "activation: fitted 'tanh', this model 'relu'" in message and "predict(build_model" in message
    # a start-only setting (the initial weights' seed) does not change the network: accepted
    same = moons.build_model(X4, Y4, random_seed=5)
    np.testing.assert_array_equal(predict(same, fitted, X4), predict(moons.build_model, fitted, X4))


def test_predict_refuses_another_familys_builder(fitted):
    with pytest.raises(ValueError, match=r"fit of the 'moons' model, not 'regression'.*get_builder\('moons'\)"):
        predict(regression.build_model, fitted, X4)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 KiB tmpfs: a real full disk (needs root, as in CI; skipped where mounting is refused)."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the full-disk test, but mounting a tmpfs failed: {done.stderr.decode()}")
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_saving_to_a_full_disk_is_a_clean_error_with_nothing_left(fitted, tiny_disk):
    """h5py writing to a full disk used to crash the interpreter (exit 139) and leave its
    partial file; now an OSError names the path and the fix, and the folder stays empty."""
    with pytest.raises(OSError) as info:
        save_result(fitted, tiny_disk / "fit.nc")
    assert (
        info.value.errno == 28 and str(tiny_disk / "fit.nc") in str(info.value) and "free some space" in str(info.value)
    )
    assert list(tiny_disk.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(fitted, tmp_path, monkeypatch):
    """An injected ENOSPC in the middle of the write: the earlier result stays intact."""
    import errno

    import bnngallery.files as files

    path = save_result(fitted, tmp_path / "fit.nc")
    before = path.read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="could not write"):
        save_result(fitted, path)
    monkeypatch.setattr(files.os, "fsync", real_fsync)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]


def test_a_cli_run_that_fails_leaves_no_empty_output_folder(tmp_path, capsys):
    from bnngallery.cli import _guarded

    out = tmp_path / "run"

    def failing():
        out.mkdir()
        raise ValueError("bad setting")

    assert _guarded(out, failing)[0] == 1 and not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()

    def failing_early():
        raise ValueError("bad setting")

    assert _guarded(kept, failing_early)[0] == 1
    assert kept.exists()  # a folder the user had, even empty, is never removed
    assert "error: bad setting" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning")  # PyTensor's note on a Python Op
def test_an_op_without_a_jax_conversion_is_named_before_compiling_with_the_ways_that_fit():
    """A user's custom Op (perform and pullback, no JAX conversion): the JAX methods refuse it up
    front, naming the Op and the ways that can fit the model, and PyMC's own ADVI fits it."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class Double(Op):
        __props__ = ()

        def make_node(self, x):
            x = pt.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            outputs[0][0] = np.asarray(2.0 * inputs[0])

        def pullback(self, inputs, outputs, cotangents):
            return [2.0 * cotangents[0]]

    y = np.array([3.0, 4.2, 3.6, 4.4])
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 10.0)
        pm.Normal("y", Double()(a), 1.0, observed=y)
    for method in ("advi", "laplace", "nuts"):
        with pytest.raises(NotImplementedError) as info:
            fit(model, method, progressbar=False)
        assert "Double" in str(info.value) and "backend='pytensor' (advi, fullrank_advi, nuts)" in str(info.value)
    result = fit(
        model,
        "advi",
        backend="pytensor",
        lr_schedule="constant",
        learning_rate=0.02,
        steps=5000,
        draws=2000,
        progressbar=False,
        log_likelihood=False,
    )
    precision = 4 * len(y) + 1 / 100  # y ~ N(2a, 1), a ~ N(0, 10): a Gaussian posterior
    mean = 2 * y.sum() / precision
    assert float(result.posterior["a"].mean()) == pytest.approx(mean, abs=0.5 / np.sqrt(precision))
