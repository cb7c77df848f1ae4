"""The family's shipped weights and run file: each weights file holds what its member scores with
(one head for MSA's blocks, the host's shape for CSA, only the computing layers for sharing), each is
at most 12 MB, the command line knows the presets, and the recorded run has every preset that runs."""

import json
from types import SimpleNamespace

import pytest

from dsa_core.family import cli, measure, presets
from dsa_core.host.indexers import DEFAULT_PATH, load_indexers


def test_each_weights_file_fits_its_member():
    shipped, cfg, meta = load_indexers(DEFAULT_PATH)
    block, bcfg, bmeta = load_indexers(presets.BLOCK_PATH)
    assert len(block) == 30 and all(i is not None and i.n_heads == 1 for i in block)
    assert bcfg.dim == cfg.dim and "one-head block" in bmeta["recipe"]
    csa, ccfg, cmeta = load_indexers(presets.CSA_PATH)
    assert all(i is not None and i.n_heads == cfg.index_n_heads for i in csa) and "window" in cmeta["recipe"]
    shared = load_indexers(presets.SHARED_PATH)[0]
    assert [l for l, i in enumerate(shared) if i is not None] == list(range(0, 30, 4))
    for path in (presets.BLOCK_PATH, presets.CSA_PATH, presets.SHARED_PATH):
        assert path.stat().st_size <= 12_000_000


def test_the_command_line_takes_the_presets():
    args = SimpleNamespace(block=None, pool=None, compress=None, every=4, blocks=31, calibration=None)
    got = cli.build_members(SimpleNamespace(model=None), ["hisa", "msa", "token"], args)
    assert got["hisa"] == presets.runnable()["hisa"] and got["msa"].dot and got["token"].name == "token"
    with pytest.raises(SystemExit):
        cli.main(["x.txt", "--member", "nsa"])


def test_the_recorded_run_measures_every_member_at_equal_tokens_read():
    rep = json.loads(presets.RUN.read_text(encoding="utf-8"))
    assert rep["k"] == presets.K and rep["tokens"] == 8192 and len(rep["files"]) == 3
    points = measure.pareto_points(rep)
    assert {p["name"] for p in points} >= {"token", "MSA block (trained)", "CSA (trained, seed 0)"}
    token = next(p for p in points if p["name"] == "token")
    assert all(0 < p["recall"] <= 1 and p["flops"] <= token["flops"] + 1 for p in points)
