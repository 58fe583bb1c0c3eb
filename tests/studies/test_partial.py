"""A killed run resumes from its finished pieces, with results equal to an uninterrupted run."""

from __future__ import annotations

import safetensors.torch
import torch

from sparsernn.results import load
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies import partial as partial_module
from sparsernn.studies.partial import ELAPSED, FOLDER, NONE, open_partial, partial_dir
from sparsernn.studies.protocols import controlled, controlled_jobs, darji_pruning
from sparsernn.studies.runner import execute

DARJI = {
    "study": "t",
    "protocol": "darji_pruning",
    "data": {"name": "darji_reber", "options": {"n_valid": 60}, "batch_size": 16},
    "model": {"cell": "gru", "hidden_size": 5, "num_layers": 1, "embedding_dim": 3},
    "train": {"epochs": 1, "lr": 0.05},
    "params": {"kinds": ["ih", "hh"], "sparsities": [0.3, 0.6], "recovery_epochs": 2},
}
JOBS = 4  # kinds × sparsities


def _config():
    (config,) = expand(parse_recipe(DARJI))
    return config


class _Counting:
    """Wraps a function, counts its calls and raises on call number ``fail_at`` (as a kill would stop it)."""

    def __init__(self, function, fail_at=None):
        self.function, self.fail_at, self.calls = function, fail_at, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("killed")
        return self.function(*args, **kwargs)


def _same_tensors(a: bytes, b: bytes) -> bool:
    x, y = safetensors.torch.load(a), safetensors.torch.load(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def _kill_after_two_jobs(config, root, monkeypatch):
    """An attempt that trains the base, finishes two jobs and dies in the third."""
    dying = _Counting(darji_pruning._recover, fail_at=3)
    monkeypatch.setattr(darji_pruning, "_recover", dying)
    killed = execute(config, partial_root=root)
    assert killed.status == "failed" and "killed" in killed.reason
    kept = sorted(p.name for p in partial_dir(root, config).iterdir())
    assert kept == ["base.pt", "elapsed_s", "fingerprint", "job_ih_0.3.pt", "job_ih_0.6.pt"]


def test_a_killed_darji_run_resumes_from_its_finished_pieces(tmp_path, one_torch_thread, monkeypatch):
    config = _config()
    reference = execute(config)
    assert reference.status == "ok", reference.reason
    _kill_after_two_jobs(config, tmp_path, monkeypatch)
    recover, training = _Counting(darji_pruning._recover.function), _Counting(darji_pruning.train)
    monkeypatch.setattr(darji_pruning, "_recover", recover)
    monkeypatch.setattr(darji_pruning, "train", training)
    resumed = execute(config, partial_root=tmp_path)
    assert resumed.status == "ok", resumed.reason
    assert recover.calls == JOBS - 2  # only the jobs the killed attempt did not finish
    assert training.calls == JOBS - 2  # recovery training only: the base model came from the kept piece
    assert resumed.rows == reference.rows and resumed.summary == reference.summary
    assert _same_tensors(resumed.files["model.safetensors"], reference.files["model.safetensors"])


def test_a_resumed_run_counts_the_earlier_attempts_in_its_wall_time(tmp_path, one_torch_thread, monkeypatch):
    config = _config()
    uninterrupted = execute(config, partial_root=tmp_path / "other")
    assert uninterrupted.resumed_s == 0 and "resumed_s" not in uninterrupted.record().summary
    _kill_after_two_jobs(config, tmp_path, monkeypatch)
    elapsed = partial_dir(tmp_path, config) / ELAPSED
    assert float(elapsed.read_text()) > 0  # the killed attempt's time up to its last kept piece
    elapsed.write_text("1000.000")  # as if the killed attempt had run for 1000 s
    monkeypatch.setattr(darji_pruning, "_recover", darji_pruning._recover.function)
    resumed = execute(config, partial_root=tmp_path)
    assert resumed.status == "ok", resumed.reason
    assert resumed.resumed_s == 1000 and 1000 < resumed.wall_s < 1000 + uninterrupted.wall_s + 60
    assert resumed.record().summary["resumed_s"] == 1000
    assert float(elapsed.read_text()) > 1000  # the pieces this attempt kept add to the earlier time


def test_resumed_jobs_in_workers_match_too(tmp_path, one_torch_thread, monkeypatch):
    config = _config()
    reference = execute(config)
    _kill_after_two_jobs(config, tmp_path, monkeypatch)
    monkeypatch.setattr(darji_pruning, "_recover", darji_pruning._recover.function)
    resumed = execute(config, partial_root=tmp_path, workers=2)
    assert resumed.status == "ok", resumed.reason
    assert resumed.rows == reference.rows and resumed.summary == reference.summary


def test_the_sweep_resumes_a_killed_run_and_deletes_its_pieces(tmp_path, one_torch_thread, monkeypatch):
    config = _config()
    reference = execute(config)
    _kill_after_two_jobs(config, tmp_path, monkeypatch)
    assert load(tmp_path).empty  # pieces are not runs
    monkeypatch.setattr(darji_pruning, "_recover", darji_pruning._recover.function)
    outcome = run_sweep([config], tmp_path, progress=False)
    assert (outcome.ok, outcome.failed) == (1, 0)
    assert not (tmp_path / FOLDER).exists()
    (run,) = load(tmp_path).to_dict("records")
    assert run["safe_sparsity_ih"] == reference.summary["safe_sparsity_ih"]
    assert 0 < run["resumed_s"] < run["wall_s"]  # the stored run says it resumed, and from how much


def test_a_failed_run_keeps_its_pieces_and_a_retry_resumes_from_them(tmp_path, one_torch_thread, monkeypatch):
    config = _config()
    reference = execute(config)
    monkeypatch.setattr(darji_pruning, "_recover", _Counting(darji_pruning._recover, fail_at=3))
    failed = run_sweep([config], tmp_path, progress=False)
    assert (failed.ok, failed.failed) == (0, 1)
    kept = sorted(p.name for p in partial_dir(tmp_path, config).iterdir())
    # not deleted with the failure
    assert kept == ["base.pt", "elapsed_s", "fingerprint", "job_ih_0.3.pt", "job_ih_0.6.pt"]
    recover = _Counting(darji_pruning._recover.function)
    monkeypatch.setattr(darji_pruning, "_recover", recover)
    retried = run_sweep([config], tmp_path, progress=False, retry_failed=True)
    assert (retried.ok, retried.failed, recover.calls) == (1, 0, JOBS - 2)
    assert not (tmp_path / FOLDER).exists()
    (run,) = load(tmp_path).to_dict("records")
    assert run["safe_sparsity_ih"] == reference.summary["safe_sparsity_ih"]
    assert run["code_fingerprint"] == partial_module.code_fingerprint()  # which code computed the run


def test_pieces_left_by_other_code_are_thrown_away(tmp_path, monkeypatch):
    config = _config()
    open_partial(tmp_path, config).save("base", {"rows": [1.5]})
    assert open_partial(tmp_path, config).load("base") == {"rows": [1.5]}
    monkeypatch.setattr(partial_module, "code_fingerprint", lambda: "another version")
    assert open_partial(tmp_path, config).load("base") is None
    other = _config().model_copy(update={"seed": 7})
    assert partial_dir(tmp_path, other) != partial_dir(tmp_path, config)


def test_no_folder_keeps_nothing():
    NONE.save("base", {"x": torch.ones(2)})
    assert NONE.load("base") is None
    assert open_partial(None, _config()) is NONE


def test_kept_computes_a_missing_piece_once_and_then_loads_it(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"rows": [len(calls)]}

    piece = open_partial(tmp_path, _config())
    assert piece.kept("job", compute) == {"rows": [1]}
    assert piece.kept("job", compute) == {"rows": [1]}  # loaded, not computed again
    assert len(calls) == 1
    assert NONE.kept("job", compute) == {"rows": [2]}  # no folder: computed every time


CONTROLLED = {
    "study": "t",
    "protocol": "controlled_pruning",
    "data": {"name": "mnist1d", "options": {"n_train": 150, "n_val": 30, "n_test": 60}, "batch_size": 32},
    "model": {"cell": "gru", "hidden_size": 8},
    "train": {"epochs": 1, "lr": 0.01},
    "params": {
        "densities": [1.0, 0.6, 0.3],
        "criteria": ["magnitude", "random"],
        "scratch": {"inits": ["expander"], "densities": [0.3], "epochs": 1},
    },
}


def test_a_killed_controlled_run_resumes_from_its_dense_base_and_finished_jobs(
    tmp_path, one_torch_thread, monkeypatch
):
    (config,) = expand(parse_recipe(CONTROLLED))
    reference = execute(config)
    assert reference.status == "ok", reference.reason
    monkeypatch.setattr(controlled_jobs, "run_path", _Counting(controlled_jobs.run_path, fail_at=2))
    assert execute(config, partial_root=tmp_path).status == "failed"  # the random path died
    kept = sorted(p.name for p in partial_dir(tmp_path, config).iterdir())
    assert kept == ["dense.pt", "elapsed_s", "fingerprint", "path_magnitude.pt"]
    paths, dense = _Counting(controlled_jobs.run_path.function), _Counting(controlled.fit)
    monkeypatch.setattr(controlled_jobs, "run_path", paths)
    monkeypatch.setattr(controlled, "fit", dense)
    resumed = execute(config, partial_root=tmp_path)
    assert resumed.status == "ok", resumed.reason
    assert (paths.calls, dense.calls) == (1, 0)  # the random path only; the dense base was kept
    assert resumed.rows == reference.rows and resumed.summary == reference.summary
    assert resumed.files == reference.files  # the kept path's masks too
