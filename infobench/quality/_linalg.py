"""Dense symmetric linear algebra of the quality scores (FID, FID-infinity, Vendi)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["SINGLE_PRECISION", "SINGLE_PRECISION_MIN_DIM", "TORCH_EIGVALSH_MIN_DIM", "symmetric_eigenvalues"]

# From this dimension on the symmetric eigenvalues come from torch (MKL: 2.4x numpy's OpenBLAS at d = 2048
# on one core, 0.43 s against 1.06 s); below it numpy's lower call overhead wins.
TORCH_EIGVALSH_MIN_DIM = 128

# The halves of split replicates (infobench.quality.bootstrap) from this dimension on run their d x d
# products and eigenvalues in float32 (Cholesky factors stay float64): 1.6x faster, and on 10,000 vs 10,000
# 2048-d features (benchmarks/bench_quality_peers.py:features, 8 replicates) the rounding moved a replicate's
# deviation (T_A - T_B) / sqrt(2) by 0.04 % (FID) and 0.2 % (Vendi) of the deviations' standard deviation
# (rms). Point values always run in float64.
SINGLE_PRECISION_MIN_DIM = 128
# Key of Context.cache that marks such a half.
SINGLE_PRECISION = ("linalg", "float32")


def symmetric_eigenvalues(a: np.ndarray, single: bool = False) -> np.ndarray:
    """Eigenvalues (ascending) of the symmetric float64 matrix ``a`` (lower triangle read, as ``numpy.linalg.eigvalsh``).

    ``single``: computed in float32 (returned as float64).
    """
    if single:
        a32 = np.ascontiguousarray(a, dtype=np.float32)
        return torch.linalg.eigvalsh(torch.from_numpy(a32)).numpy().astype(np.float64)
    if a.shape[0] >= TORCH_EIGVALSH_MIN_DIM:
        return torch.linalg.eigvalsh(torch.from_numpy(np.ascontiguousarray(a))).numpy()
    return np.linalg.eigvalsh(a)
