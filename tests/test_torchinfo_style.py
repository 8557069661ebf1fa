"""summary(style="torchinfo") reproduces what torchinfo prints for the same network."""

from __future__ import annotations

import re

import pytest

import convcalc
from convcalc import zoo

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")
zoo_reference = pytest.importorskip("zoo_reference")


def _normalise(text: str, root: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [re.sub(r"\(Units\.GIGABYTES\)", "(G)", line) for line in lines]  # torchinfo 1.8 prints its enum
    lines = [re.sub(r"\(Units\.MEGABYTES\)", "(M)", line) for line in lines]
    # the root's name differs (the torch class vs the convcalc container), and so does its padding
    return [" ".join(line.replace(root, "ROOT", 1).split()) if j == 3 else line for j, line in enumerate(lines)]


@pytest.mark.parametrize("batch", [1, 256])
def test_mnist_cnn_matches_torchinfo(batch: int) -> None:
    shape = (batch, 1, 28, 28)
    theirs = str(torchinfo.summary(zoo_reference.MnistCNNModel(0.5), shape, verbose=0))
    ours = convcalc.plan(zoo.mnist_cnn(), shape).summary("torchinfo")
    ours_lines = _normalise(ours, "Sequential")
    their_lines = _normalise(theirs, "MnistCNNModel")
    assert ours_lines[: len(their_lines)] == their_lines
    # and the last line says which MAC convention convcalc's own totals follow
    assert ours_lines[-1].startswith("MACs: conv + linear multiply-accumulates")


def test_torchinfo_mac_convention_matches_torchinfo_total() -> None:
    stats = torchinfo.summary(zoo_reference.MnistCNNModel(0.5), (8, 1, 28, 28), verbose=0)
    plan = convcalc.plan(zoo.mnist_cnn(), (8, 1, 28, 28), macs="torchinfo")
    assert plan.macs * 8 == stats.total_mult_adds
