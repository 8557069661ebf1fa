"""The benchmark runner runs end to end in --quick mode and writes the JSON it promises.

No wall-clock assertions: timings on a shared CI machine are not a test. The
figures themselves are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {"resnet50", "vgg16", "alexnet", "chain200", "unet2015"}
TOOLS = (
    "plan",
    "plan_torch",
    "plan_symbolic",
    "torchinfo",
    "meta_forward",
    "fx_shapeprop",
    "cpu_forward",
    "ptflops",
    "fvcore",
    "torch_export_dynamic",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc, data


def test_exits_zero_and_writes_json(quick_result: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    proc, data = quick_result
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert data, "no JSON written"
    assert set(data) >= {
        "meta",
        "timings",
        "ratios",
        "counts",
        "scaling",
        "vectorised",
        "startup",
        "symbolic_check",
        "targets",
    }
    assert data["meta"]["quick"] is True
    assert "Planning time" in proc.stdout


def test_every_network_and_tool_is_reported(quick_result: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _, data = quick_result
    assert set(data["timings"]) == set(NETWORKS)
    for name, tools in data["timings"].items():
        assert set(tools) >= set(TOOLS), name
        # convcalc's own figures are always measured; a peer is either timed or says why not
        for key in ("plan", "plan_symbolic"):
            assert {"min_s", "median_s", "repeats"} <= set(tools[key])
        for tool in TOOLS:
            entry = tools[tool]
            assert "min_s" in entry or entry.get("status") in ("n/a", "error"), (name, tool, entry)
        assert set(data["ratios"][name]) == set(TOOLS[1:])


def test_counts_match_the_published_figures(quick_result: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _, data = quick_result
    for name, c in data["counts"].items():
        pub = c["published"]
        assert c["convcalc"]["params"] == pub["params"], name
        assert c["convcalc"]["macs"] == pub["macs"], name
        # whatever a peer reported, its difference from convcalc is rebuilt exactly from its counting rule
        for tool in (
            "torchinfo",
            "torchinfo_batch2",
            "ptflops",
            "ptflops_no_functional",
            "fvcore",
            "flop_counter",
            "plan_torch",
        ):
            entry = c.get(tool)
            if entry and "value" in entry:
                assert entry["explained"], (name, tool, entry)
                assert entry["params"] == c["convcalc"]["params"], (name, tool)


def test_scaling_vectorised_startup_and_symbolic_sections(
    quick_result: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, data = quick_result
    depth = data["scaling"]["depth"]
    assert [r["depth"] for r in depth["rows"]] == [50, 100, 200, 500, 1000]
    assert {"numeric", "symbolic"} <= set(depth["summary"])
    assert depth["summary"]["numeric"]["ratio_1000_over_50"] > 0
    batch = data["scaling"]["batch"]
    assert [r["batch"] for r in batch["rows"]] == [1, 4, 16, 64, 256, 1024]
    assert "plan_max_over_min" in batch
    vec = data["vectorised"]
    if "min_s" in vec:
        assert vec["configurations"] == 1_000_000
        assert vec["correct"] is True
    st = data["startup"]
    assert {
        "python_pass",
        "import_convcalc",
        "import_overhead_s",
        "cli_size",
        "heavy_modules_after_import",
        "bytecode_cached",
        "no_bytecode_cache",
    } <= set(st)
    assert st["heavy_modules_after_import"] == [], "import convcalc must not import sympy, numpy or torch"
    sc = data["symbolic_check"]
    if "all_equal" in sc:
        assert sc["all_equal"] is True, sc.get("mismatches")
    for name, target in data["targets"].items():
        assert {"value", "target", "met"} <= set(target), name


def test_corpus_benchmark_code_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks.corpus on a few corpus models (an ordinary one, a hand-written U-Net, one that needs the
    fallback, a TorchScript one the meta-forward peer cannot hook), one round each: the JSON it promises."""
    pytest.importorskip("torch")
    from benchmarks import corpus

    out = tmp_path / "corpus.json"
    models = ["LeNet", "UNetSmall", "IntViewNet", "ScriptAskNet"]
    assert corpus.main(["--quick", "--repeats", "1", "--json", str(out), "--models", *models]) == 0
    data = json.loads(out.read_text())
    assert set(data["models"]) == set(models)
    for name, entry in data["models"].items():
        assert {"plan", "fallback", "fallback_rows", "rows"} <= set(entry), name
        assert "min_s" in entry["plan"], name
        assert "plan_over_meta" in entry or "meta_forward_error" in entry, name
    assert data["models"]["ScriptAskNet"]["fallback"] is True
    assert data["models"]["LeNet"]["fallback"] is False
    summary = data["summary"]
    assert summary["slowest"] in models
    assert "ScriptAskNet" in summary["fallback_models"]
    assert set(data["flatness"]) == {"LeNet", "UNetSmall", "IntViewNet"}
    for row in data["flatness"].values():
        assert row["batches"] == [1, 64, 1024]
        assert len(row["plan"]) == len(row["meta_forward"]) == 3
    r50 = data["resnet50"]
    assert {"plan", "plan_torch", "meta_forward", "ratios_over_plan", "loadavg_start"} <= set(r50)
    assert "plan / meta forward" in capsys.readouterr().out


def test_corpus_benchmark_batch_sizes() -> None:
    from benchmarks.corpus import with_batch

    assert with_batch((2, 3, 8, 8), 64) == (64, 3, 8, 8)
    assert with_batch([(2, 1, 8, 8), (2, 1, 8, 8)], 1) == [(1, 1, 8, 8), (1, 1, 8, 8)]
    assert with_batch({"x": (2, 6), "mask": (2, 6)}, 1024) == {"x": (1024, 6), "mask": (1024, 6)}
