"""Latent-space MI for high-dimensional variables: compress each side, then estimate with KSG.

kNN estimators lose most of the information between two 25-dimensional
variables at a few thousand rows (KSG reads about a fifth of the truth on the
25x25 Gaussian tasks at n = 5,000): distances concentrate, and the k-th
neighbour is far away in every direction. Latent-space MI ([LMI]_) first
learns a low-dimensional representation of each side that keeps the
dependence, then runs KSG on the representations, where it is accurate. By
the data-processing inequality ``I(f(X); g(Y)) <= I(X; Y)`` for maps ``f, g``
fitted on *other* rows, so the estimate on held-out rows is (up to KSG's own
bias) a lower bound that becomes tight when the latents keep the shared
information.

[LMI]_ learns the maps with autoencoders regularised to predict the other
side. Here they are linear and fitted in closed form, which needs no
training and no tuning:

1. Each column is replaced by its normal scores ``Phi^{-1}(rank / (n + 1))``
   (the Gaussian copula transform; [GCMI]_ Sec. 2.2). MI is invariant under
   per-coordinate monotone maps, so this loses nothing, and it turns data
   that are Gaussian up to per-coordinate transforms into Gaussian data.
2. On a fit split, canonical correlation analysis ([CCA]_) finds the
   directions ``a_i, b_i`` whose projections are most correlated. For
   jointly Gaussian scores the canonical pairs carry all of the MI,
   ``I = -1/2 sum_i log(1 - rho_i^2)`` (Gelfand & Yaglom 1959).
3. Only pairs whose fit-split canonical correlation exceeds what independent
   data would show are kept: the upper edge of Wachter's limiting law for
   the sample canonical correlations of independent ``p``- and
   ``q``-dimensional data from ``m`` rows,
   ``rho_+^2 = ((sqrt(p (m - q)) + sqrt(q (m - p))) / m)^2`` ([JOH]_ eq. 5,
   [WAC]_), times ``1 + edge_margin`` (and at most ``max_latent``).
4. KSG ([KSG]_, :func:`~infobench.estimators.knn.ksg_mutual_information`)
   estimates ``I(A X; B Y)`` on the held-out rows projected on the kept
   directions: ``combine="pairs"`` (default) sums 1-d KSG estimates over
   the canonical pairs, ``combine="joint"`` runs one KSG on all kept
   latents. The sum is exact when the canonical pairs are mutually
   independent, which holds for Gaussian copulas (canonical variates of a
   Gaussian are uncorrelated across pairs, hence independent); it avoids
   KSG's downward bias in several dimensions (5 pairs of ``rho = 0.5`` at
   2,500 rows: joint KSG 0.54-0.57 nats, the sum 0.68-0.71, truth 0.72).
   ``"joint"`` makes no independence assumption across pairs.

The compression is linear in the copula scores, so it keeps dependence that
is monotone in each coordinate and linear after the copula transform (any
shape within the kept latents is then measured non-parametrically by KSG);
dependence outside the kept directions (e.g. ``Y = X^2``, canonical
correlation 0) is lost and the estimate reads low. Canonical correlations
below the noise edge are dropped too, so many weak pairs are missed: 25 pairs
of ``rho = 0.15`` in 25x25 at n = 5,000 (0.28 nats) read 0.00-0.03 (seeds
0-2), where 10 pairs of ``rho = 0.3`` (0.47 nats) read 0.32-0.45.

References
----------
.. [LMI] Gowri, G., Lun, X.-K., Klein, A. M., Yin, P. (2024). Approximating
   mutual information of high-dimensional variables using learned
   representations. NeurIPS. arXiv:2409.02732.
.. [GCMI] Ince, R. A. A. et al. (2017). A statistical framework for
   neuroimaging data analysis based on mutual information estimated via a
   Gaussian copula. Human Brain Mapping 38(3), 1541-1573.
.. [CCA] Hotelling, H. (1936). Relations between two sets of variates.
   Biometrika 28(3/4), 321-377.
.. [WAC] Wachter, K. W. (1980). The limiting empirical measure of multiple
   discriminant ratios. Annals of Statistics 8(5), 937-957.
.. [JOH] Johnstone, I. M. (2008). Multivariate analysis and Jacobi
   ensembles: largest eigenvalue, Tracy-Widom limits and rates of
   convergence. Annals of Statistics 36(6), 2638-2716.
.. [KSG] Kraskov, A., Stögbauer, H., Grassberger, P. (2004). Estimating
   mutual information. Phys. Rev. E 69, 066138.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, cast

import numpy as np
import torch

from infobench._validation import (
    as_generator,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_pair,
    resolve_device,
    resolve_dtype,
    spawn_seeds,
)
from infobench.diagnostics import merge
from infobench.estimators._conditions import Findings, dither_columns, plan_dither, requires
from infobench.estimators._transforms import check_transform, normal_scores
from infobench.estimators.base import Estimate, register
from infobench.estimators.gaussian import canonical_correlation_analysis
from infobench.estimators.knn import ksg_mutual_information

__all__ = ["latent_mutual_information", "noise_edge"]


def noise_edge(p: int, q: int, m: int) -> float:
    """Upper edge of the sample canonical correlations of independent data (``p, q`` columns, ``m`` rows).

    Wachter's limit law ([WAC]_; [JOH]_ eq. 5): the largest squared sample
    canonical correlation of independent Gaussian ``p``- and ``q``-vectors
    tends to ``((sqrt(p (m - q)) + sqrt(q (m - p))) / m)^2`` as ``p, q, m``
    grow in proportion. Returns its square root, capped at 1.
    """
    if p + q >= m:
        return 1.0
    edge2 = ((math.sqrt(p * (m - q)) + math.sqrt(q * (m - p))) / m) ** 2
    return min(1.0, math.sqrt(edge2))


def _project(v: torch.Tensor, fitted: tuple[torch.Tensor, ...], keep: int) -> torch.Tensor:
    mean, scale, chol, rot = fitted
    z = torch.linalg.solve_triangular(chol, ((v - mean) / scale).T, upper=False).T
    projected: torch.Tensor = z @ rot[:, :keep]
    return projected


@register("mi", "latent")
@requires("precision", "quantised", "duplicates", "saturated")
def latent_mutual_information(
    x: Any,
    y: Any,
    *,
    transform: str = "copula",
    fit_fraction: float = 0.5,
    max_latent: int | None = None,
    edge_margin: float = 0.25,
    combine: str = "pairs",
    k: int = 3,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    copula: bool | None = None,
) -> Estimate:
    r"""Latent-space MI: copula scores, CCA compression on a fit split, KSG on held-out latents (Gowri et al. 2024).

    See the module docstring for the procedure and its references.

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, dx), (n, dy)
        Paired continuous samples.
    transform : {"copula", "scale", "none"}
        ``"copula"`` (default) replaces every column by its normal scores
        first; ``"none"`` uses the raw columns (then only linear dependence is
        compressed well), and so does ``"scale"``: the canonical correlations
        do not change under a per-column affine map.
    fit_fraction : float
        Share of the rows, in (0, 1), on which the canonical directions are
        fitted; the estimate uses the other rows only.
    max_latent : int or None
        Most canonical pairs kept (>= 1); ``None``: no cap beyond the noise
        edge. With ``combine="joint"`` a cap keeps KSG in few dimensions.
    edge_margin : float
        A pair is kept when its fit-split canonical correlation exceeds
        ``(1 + edge_margin)`` times Wachter's noise edge (:func:`noise_edge`),
        >= 0. At least one pair is always kept.
    combine : {"pairs", "joint"}
        ``"pairs"``: the sum of 1-d KSG estimates over the kept canonical
        pairs (exact for Gaussian copulas); ``"joint"``: one KSG on all kept
        latents (see the module docstring).
    k : int
        Neighbours of the KSG estimates on the latents.
    std_err : bool
        KSG's standard error on the held-out latents (see
        :func:`~infobench.estimators.knn.ksg_mutual_information`), for
        ``"pairs"`` the root sum of squares of the per-pair errors (pairs
        independent); it is conditional on the fitted directions.
    seed : int, Generator or None
        Seeds the fit/held-out split and KSG's tie-breaking noise.
    device : "auto", "cpu", "cuda" or torch.device
        Where the CCA and the KSG estimates run (``"auto"``: CUDA when
        available). The per-column steps before them (tie-breaking spread,
        normal scores: one sort per column) run on the CPU in float64.
    dtype : None, "float32" or "float64"
        Working precision of the CCA and KSG; ``None``: float64 on the CPU,
        float32 on CUDA.
    copula : bool, optional
        Deprecated alias of ``transform`` (``True``: ``"copula"``, ``False``:
        ``"none"``), kept one release; it emits a ``DeprecationWarning``.

    Returns
    -------
    Estimate
        ``value`` in nats; ``extras``: ``latent_dim`` (pairs kept),
        ``canonical_correlations`` (fit split, decreasing), ``noise_edge``,
        ``n_fit``, ``n_heldout``, ``pair_values`` (``"pairs"``: the 1-d
        KSG estimate of each kept pair), ``device`` and ``dtype``.

    Notes
    -----
    Cost: one ``O(n (dx + dy)^2)`` CCA and one KSG on ``latent_dim``-dimensional
    data: well under a second for 25x25 at n = 5,000
    (``benchmarks/bench_highdim.py``). Measured there, seed 0: 1.27 nats on
    ``normal-dense-x25-y25-rho0.5`` (truth 1.29) and 0.66 on
    ``normal-sparse-x25-y25-pairs5-rho0.5`` (truth 0.72), where KSG on the
    raw 25x25 data reads about a fifth of the truth.

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 20)); y = rng.normal(size=(4000, 20))
    >>> y[:, 0] += x[:, 0]            # one shared direction: I = log(2)/2 = 0.347 nats
    >>> est = infobench.mutual_information(np.exp(x), y, method="latent", seed=0)
    """
    dev = resolve_device(device)
    work = resolve_dtype(dtype, dev)
    # Ranks and the tie-breaking spread are per-column host work in float64; the CCA and KSG run on dev.
    sx, sy = check_pair(x, y, device="cpu", dtype="float64")
    if copula is not None:
        transform = "copula" if check_bool("copula", copula) else "none"
        warnings.warn(
            f"latent: copula= is deprecated and will be removed; use transform={transform!r}, the name every "
            "estimator gives its per-column units",
            DeprecationWarning,
            stacklevel=4,
        )
    transform = check_transform(transform, quantity="mi")
    fit_fraction = check_float("fit_fraction", fit_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    if max_latent is not None:
        max_latent = check_int("max_latent", max_latent, low=1)
    edge_margin = check_float("edge_margin", edge_margin, low=0.0)
    combine = check_choice("combine", combine, ("pairs", "joint"))
    std_err = check_bool("std_err", std_err)
    n = sx.n
    n_fit = int(round(n * fit_fraction))
    n_held = n - n_fit
    need = sx.d + sy.d + 2
    if n_fit < need or n_held < need:
        raise ValueError(
            f"fit_fraction={fit_fraction:g} splits n={n} rows into {n_fit} to fit and {n_held} held out; both "
            f"need at least dx + dy + 2 = {need} rows (more rows, or a fit_fraction nearer 0.5)"
        )
    s_split, s_ksg, s_dither = spawn_seeds(as_generator(seed), 3)
    # Values on a grid are spread over their cells first, as KSG does (MI is unchanged by it), so
    # that tied scores do not become duplicate latents.
    findings = Findings()
    rng = np.random.default_rng(s_dither)
    xd = dither_columns(sx.data, plan_dither(sx, findings, quantity="mi", method="latent"), rng).numpy()
    yd = dither_columns(sy.data, plan_dither(sy, findings, quantity="mi", method="latent"), rng).numpy()
    if transform == "copula":
        xd, yd = normal_scores(xd), normal_scores(yd)
    perm = torch.from_numpy(np.random.default_rng(s_split).permutation(n)).to(dev)
    fit, held = perm[:n_fit], perm[n_fit:]
    xt = torch.from_numpy(np.ascontiguousarray(xd)).to(device=dev, dtype=work)
    yt = torch.from_numpy(np.ascontiguousarray(yd)).to(device=dev, dtype=work)
    rho, fx, fy = canonical_correlation_analysis(xt[fit], yt[fit])
    edge = noise_edge(sx.d, sy.d, n_fit)
    keep = max(1, int((rho > (1 + edge_margin) * edge).sum()))
    keep = keep if max_latent is None else min(keep, max_latent)
    ex, ey = _project(xt[held], fx, keep), _project(yt[held], fy, keep)
    if combine == "joint":
        parts = [ksg_mutual_information(ex, ey, k=k, std_err=std_err, seed=s_ksg, device=dev, dtype=work)]
    else:
        parts = [
            ksg_mutual_information(ex[:, i], ey[:, i], k=k, std_err=std_err, seed=s, device=dev, dtype=work)
            for i, s in enumerate(spawn_seeds(s_ksg, keep))
        ]
    se = math.sqrt(sum(cast(float, p.std_err) ** 2 for p in parts)) if std_err else None
    return Estimate(
        value=float(sum(p.value for p in parts)),
        std_err=se,
        n=n,
        extras={
            "latent_dim": keep,
            "canonical_correlations": [float(r) for r in rho],
            "noise_edge": edge,
            "n_fit": n_fit,
            "n_heldout": n_held,
            "pair_values": [p.value for p in parts] if combine == "pairs" else None,
            "device": str(dev),
            "dtype": str(work).replace("torch.", ""),
        },
        diagnostics=merge(findings, *(p.diagnostics for p in parts)),
    )
