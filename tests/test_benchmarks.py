"""The benchmark scripts run and write what their pages read (the speed benchmark imports the
gallery's own network settings, so it cannot drift from them)."""


def test_mnist_priors_rows_and_table(tmp_path, monkeypatch, benchmark_script):
    """Each candidate is a valid builder setting, runs with both OOD sets, and lands in the
    table in the candidates' order with the best measure's AUROC and flagged share per set."""
    import json

    import numpy as np

    from bnngallery.models import mnist_mlp

    bench = benchmark_script("mnist_priors")
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 16)), np.arange(40) % 3
    for kw in bench.CANDIDATES.values():
        assert np.isfinite(mnist_mlp.build_model(X, y, hidden=(4,), **kw).point_logps()["y_obs"])
    seen = []

    def fake_run(*, out_dir, random_seed, progressbar, ood, settings, log):
        seen.append((random_seed, tuple(ood), settings["model"]["prior"]))
        auroc = {
            "fashion-mnist": {"entropy": 0.9, "mutual_info": 0.95},
            "kmnist": {"entropy": 0.97, "mutual_info": 0.8},
        }
        flagged = {
            "fashion-mnist": {"entropy": 0.3, "mutual_info": 0.4},
            "kmnist": {"entropy": 0.6, "mutual_info": 0.1},
        }
        row = {
            "test_accuracy": 0.98,
            "test_nll": 0.05,
            "ece": 0.01,
            "final_elbo": -1e4,
            "fit_seconds": 90.0,
            "compile_seconds": 5.0,
            "steps": 8000,
            "ood_auroc": auroc,
            "ood_flagged_at_p99": flagged,
            "learned_scales": {},
            "pruned_fraction": {"in": 0.9},
        }
        return {"runs": [row], "settings": {"model": settings["model"]}, "machine": "test"}

    monkeypatch.setattr(bench, "run_mnist_mlp", fake_run)
    out = tmp_path / "p.json"
    bench.main(
        ["--candidates", "horseshoe", "article-a", "--seeds", "0", "1", "--results", str(out), "--out", str(tmp_path)]
    )
    assert seen == [(s, ("fashion-mnist", "kmnist"), p) for p in ("horseshoe", "normal") for s in (0, 1)]
    stored = json.loads(out.read_text())
    assert stored["horseshoe/seed1"]["ood"]["kmnist"] == {"measure": "entropy", "auroc": 0.97, "flagged_at_p99": 0.6}
    lines = bench.table(stored).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["article-a"] * 2 + ["horseshoe"] * 2
    assert "| 0.950 / 0.970 | 0.40 / 0.60 |" in lines[-1]


def test_advi_speed_grid_figure_goes_where_it_is_asked(tmp_path, benchmark_script):
    bench = benchmark_script("advi_speed")
    rows = [
        {"width": w, "batch_size": b, "path": p, "s_per_1000_steps": 1.0 + b / 64}
        for w in (8, 16)
        for b in (64, 256)
        for p in ("floor", "engine[f32]")
    ]
    bench.plot_grid(rows, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_approximations_small_rows_keep_every_method_and_its_failures(tmp_path, monkeypatch, benchmark_script):
    """The small part keeps each compared fit's numbers and a row for a method that failed;
    the table shows both, and the README's figure is copied beside the JSON. (The comparison
    itself runs end to end in the "which approximation to trust" notebook's smoke test.)"""
    import json

    import bnngallery.runs.compare as runs_compare

    bench = benchmark_script("approximations")

    def fake_comparison(name, *, methods, smoke, out_dir, random_seed, progressbar, log):
        assert methods == "all" and smoke
        out_dir.mkdir(parents=True)
        (out_dir / "surfaces.png").write_bytes(b"png")
        runs = [
            {
                "fit": "sghmc (jax)",
                "method": "sghmc",
                "fit_seconds": 7.0,
                "label_agreement": 0.994,
                "mean_abs_prob_diff": 0.003,
                "test_accuracy": 0.96,
                "ece": 0.02,
                "test_log_likelihood": -0.11,
            },
            {
                "fit": "laplace (jax)",
                "method": "laplace",
                "fit_seconds": 4.0,
                "label_agreement": 0.95,
                "mean_abs_prob_diff": 0.11,
                "test_accuracy": 0.94,
                "ece": 0.1,
                "test_log_likelihood": -0.2,
                "khat": 1.8,
                "khat_verdict": "unreliable",
            },
            {"fit": "nuts (jax)", "method": "nuts", "fit_seconds": 90.0, "test_accuracy": 0.964, "ece": 0.018},
        ]
        return {
            "runs": runs,
            "reference": "nuts (jax)",
            "settings": {"smoke": True},
            "machine": "test",
            "failed": {"flow_advi": "The flow's draws hold NaN or inf; try a smaller learning_rate (now 0.01)."},
        }

    monkeypatch.setattr(runs_compare, "run_comparison", fake_comparison)
    out = tmp_path / "results" / "a.json"
    out.parent.mkdir()
    bench.main(["small", "--models", "moons", "--smoke", "--results", str(out), "--out", str(tmp_path / "runs")])
    entry = json.loads(out.read_text())["small"]["moons"]
    assert [r["method"] for r in entry["rows"]] == ["sghmc", "laplace", "nuts", "flow_advi"]
    assert entry["rows"][1]["khat_verdict"] == "unreliable" and "error" in entry["rows"][3]
    assert (out.parent / "approximations_moons.png").read_bytes() == b"png"
    table = bench.small_table("moons", entry).splitlines()
    assert table[2].startswith("| method | label agreement") and len(table) == 4 + 4
    assert table[4] == "| sghmc | 0.994 | 0.0030 | 0.960 | 0.020 | -0.110 |  | 7.0 |"
    assert table[-1].startswith("| flow_advi | failed: The flow's draws hold NaN or inf;")
    assert table[-1].count("|") == table[4].count("|")


def test_approximations_mnist_rows_and_table(tmp_path, monkeypatch, benchmark_script):
    import json

    bench = benchmark_script("approximations")
    seen = []

    def fake_runner(**kw):
        method = kw["methods"][0]
        seen.append(method)
        if method == "sgld":
            raise FloatingPointError("SGLD diverged: its draws hold NaN or inf. The step size is too large.")
        row = {
            "method": method,
            "test_accuracy": 0.99,
            "test_nll": 0.03 if method == "ensemble" else 0.05,
            "ece": 0.01,
            "referral_gain_at_95pct_kept": 0.008,
            "fit_seconds": 100.0,
            "compile_seconds": 3.0,
            "steps": 8000,
            "ood_auroc": {"fashion-mnist": {"entropy": 0.9, "mutual_info": 0.95}, "kmnist": {"entropy": 0.97}},
        }
        return {"runs": [row], "machine": "test"}

    import bnngallery.runs.mnist as mnist

    monkeypatch.setattr(mnist, "run_mnist_cnn", fake_runner)
    out = tmp_path / "m.json"
    bench.main(
        ["mnist", "--net", "cnn", "--methods", "sgld", "ensemble", "--results", str(out), "--out", str(tmp_path)]
    )
    assert seen == ["sgld", "ensemble"]
    stored = json.loads(out.read_text())["mnist"]
    assert stored["cnn/ensemble"]["ood_auroc"] == {"fashion-mnist": 0.95, "kmnist": 0.97}
    lines = bench.mnist_table(stored).splitlines()
    assert [line.split("|")[2].strip() for line in lines[2:]] == ["ensemble", "sgld"]  # MNIST_METHODS order
    assert lines[3] == "| CNN | sgld | failed: SGLD diverged: its draws hold NaN or inf | | | | | |"
    assert lines[3].count("|") == lines[2].count("|")
    assert "| 99.00 % | 0.0300 | 0.0100 | 0.950 / 0.970 | +0.80 pt | 100 |" in lines[2]
