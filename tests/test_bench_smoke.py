"""The mapping benchmark still runs (a tiny size; the figures live in docs/benchmarks.md)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "mapping_engine.py"


def test_the_mapping_benchmark_runs_and_both_sides_agree_on_every_payload(capsys):
    spec = importlib.util.spec_from_file_location("mapping_engine_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    figures = bench.main(["--records", "300", "--rounds", "1", "--no-write"])

    assert figures["records"] == 300
    assert "ratio engine / hand-written" in capsys.readouterr().out
