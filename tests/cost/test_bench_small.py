"""dsa_core.cost.timing and cost_bench: the sweep runs, the JSON round-trips, predictions are arithmetic.
No speed is asserted here (speed claims belong in the benchmark output, never in timed tests)."""

import pathlib
from dataclasses import replace

import pytest

from dsa_core.cost import report as cost_bench
from dsa_core.cost import timing as bench
from dsa_core.cost.predict import summarise, work
from dsa_core.cost.shapes import T1

TINY = replace(
    T1, name="tiny", n_heads=2, qk_head_dim=8, v_head_dim=8, index_n_heads=2, index_head_dim=8, index_topk=16
)


@pytest.fixture(scope="module")
def events():
    return list(bench.bench_iter(shape=TINY, lengths=[32, 64], chunk=16, max_pairs=600))


def test_progress_then_done(events):
    prog = [e for e in events if e["event"] == "progress"]
    assert [e["done"] for e in prog] == list(range(1, 13)) and prog[-1]["total"] == 12
    assert events[-1]["event"] == "done"


def test_result_schema(events, tmp_path):
    r = events[-1]["result"]
    assert r["schema"] == cost_bench.SCHEMA and r["lengths"] == [32, 64]
    variants = {row["variant"] for row in r["rows"]}
    assert variants == {*cost_bench.DENSE, *cost_bench.DSA_PARTS, "dsa/total"}
    for row in r["rows"]:
        assert row["ms"] is None or row["ms"] > 0
        assert {"T", "variant", "ms", "predicted_ms", "work", "work_unit", "sampled", "skipped"} <= set(row)
    sampled = [row["sampled"] for row in r["rows"] if row["variant"] == "dsa/indexer" and row["T"] == 64]
    assert 0 < sampled[0] < 1  # max_pairs forced sampling of query blocks
    path = tmp_path / "b.json"
    cost_bench.save_json(r, path)
    assert cost_bench.load_json(path)["rows"] == r["rows"]
    assert cost_bench.series(r, "dsa/total")["T"] == [32, 64]
    assert "DSA faster than" in cost_bench.table(r)


def test_skips_when_the_matrix_is_too_big():
    ev = list(bench.bench_iter(shape=TINY, lengths=[64], chunk=32, max_matrix_bytes=1))
    rows = {row["variant"]: row for row in ev[-1]["result"]["rows"]}
    assert rows["dense/dense_attention"]["ms"] is None and "GiB" in rows["dense/dense_attention"]["skipped"]
    assert rows["dense/sdpa_causal"]["ms"] is not None


def test_predictions_follow_the_cost_model():
    # synthetic timings: dense grows as T², DSA parts at fixed rates -> predicted crossover is arithmetic
    rows = []
    for T in (1024, 2048, 4096):
        for v in cost_bench.DENSE + cost_bench.DSA_PARTS:
            amount, _ = work(v, T1, T)
            rows.append(
                {"T": T, "variant": v, "ms": amount / 1e9, "repeats": 1, "sampled": 1.0, "skipped": None}
            )
    env = {"device": "cpu", "device_name": "test", "torch": "x", "threads": 1, "dtype": "float32"}
    r = summarise(rows, T1, env, 0.0)
    for row in r["rows"]:
        if row["variant"] != "dsa/total":
            assert row["predicted_ms"] == pytest.approx(row["ms"])
    assert r["rates"]["dense/sdpa_causal"]["value"] == pytest.approx(1e3)  # 1 TFLOP per s → GFLOP/s
    c = r["crossover"]["dense/sdpa_causal"]
    assert c["predicted_T"] is not None and c["predicted_speedup_at_16M"] > 1


def test_load_json_rejects_other_schemas(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="schema"):
        cost_bench.load_json(p)


def test_table_renders_the_recorded_h200_file_without_predictions():
    from dsa_core.cost import report as cost_bench

    path = pathlib.Path(__file__).resolve().parents[2] / "assets" / "bench" / "h200.json"
    text = cost_bench.table(cost_bench.load_json(path))
    assert "131072" in text and "H200" in text
