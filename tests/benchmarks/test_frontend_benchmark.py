"""The frontend benchmark runs end to end and reports every case against its targets."""

import pytest

from tonecue.benchmarks import frontend as bench


@pytest.mark.librosa
def test_benchmark_reports_every_case(librosa):
    report = bench.run(repeats=1, cold_runs=1)
    cases = [row["case"] for row in report["results"]]
    assert len(cases) == 6 and any(c.startswith("cold start") for c in cases)
    for row in report["results"]:
        assert row["tonecue_ms"] > 0 and row["librosa_ms"] > 0
        assert row["speedup"] == pytest.approx(row["librosa_ms"] / row["tonecue_ms"])
    text = bench.to_markdown(report)
    assert "Steady state" in text and "Cold start" in text and report["machine"]["cpu"] in text
