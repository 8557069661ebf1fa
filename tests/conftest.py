"""Shared test set-up: Hypothesis profiles (thorough in CI, quick locally), the torch device, and one torch
thread for files of tiny forwards."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Keras 3 needs a backend; torch is the one the test extra installs (set before any test imports keras)
os.environ.setdefault("KERAS_BACKEND", "torch")

# CI is thorough and reproducible: the same 2,000 examples per test on every run (derandomize), so a red CI run
# is the same red run on any machine; locally the examples are random and few.
settings.register_profile(
    "ci",
    max_examples=2000,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny forwards: torch's thread pool costs more than it saves on a shared machine (a file takes it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
