"""Neural (variational) estimators of mutual information: MINE, NWJ, InfoNCE, SMILE.

Each method trains a *critic* ``f(x, y)`` by stochastic gradient ascent on a
variational bound of ``I(X; Y) = KL(P_XY || P_X P_Y)`` and then reports the
bound evaluated on a **held-out** test split. Training rows never enter the
reported number; test rows never enter training, early stopping or any other
choice (early stopping watches a validation part of the *training* rows), so
the estimate is not inflated by selecting the best of many test evaluations.

Layout
------
``_bounds``
    Bounds on a critic-score matrix ``scores[i, j] = f(x_i, y_j)`` (the
    diagonal holds the paired samples, the off-diagonal the product of
    marginals), pure functions: :func:`dv_bound`, :func:`nwj_bound`,
    :func:`infonce_bound`, :func:`js_bound`, :func:`smile_bound`,
    :func:`mine_gradient_surrogate`.
``_critics``
    :class:`SeparableCritic` (``g(x)ᵀ h(y)``) and :class:`JointCritic` (an
    MLP on ``[x, y]``), built by :func:`build_critic`.
``_config``
    :class:`NeuralConfig`: every hyperparameter and its default, in one place.
``_training``
    The split and scaling of the rows, the training loop with early
    stopping, the held-out evaluation.
``_checks``
    What is refused (:class:`TrainingDivergedError`) and what is reported
    about a trained critic.
``_estimate``
    :func:`neural_mutual_information`: split, scale, train, evaluate.
``kernels``
    The registered kernels :func:`mine`, :func:`nwj`, :func:`infonce` and
    :func:`smile` (``infobench.mutual_information(x, y, method="smile")``),
    whose keyword parameters are the fields of :class:`NeuralConfig` plus
    the common ``std_err``, ``seed``, ``device``, ``dtype`` and ``progress``.

Every public name is importable from this package
(``from infobench.estimators.neural import smile, NeuralConfig``); importing
it registers the four kernels.

References
----------
.. [MINE] Belghazi, M. I. et al. (2018). Mutual Information Neural
   Estimation. ICML. arXiv:1801.04062.
.. [NWJ] Nguyen, X., Wainwright, M. J., Jordan, M. I. (2010). Estimating
   divergence functionals and the likelihood ratio by convex risk
   minimization. IEEE Trans. Inf. Theory 56(11).
.. [CPC] van den Oord, A., Li, Y., Vinyals, O. (2018). Representation
   Learning with Contrastive Predictive Coding. arXiv:1807.03748.
.. [VBMI] Poole, B. et al. (2019). On Variational Bounds of Mutual
   Information. ICML. arXiv:1905.06922.
.. [SMILE] Song, J., Ermon, S. (2020). Understanding the Limitations of
   Variational Mutual Information Estimators. ICLR. arXiv:1910.06222.
.. [fGAN] Nowozin, S., Cseke, B., Tomioka, R. (2016). f-GAN: Training
   Generative Neural Samplers using Variational Divergence Minimization. NeurIPS.
"""

from infobench.estimators.neural._bounds import (
    dv_bound,
    infonce_bound,
    js_bound,
    logmeanexp_offdiag,
    mine_gradient_surrogate,
    nwj_bound,
    smile_bound,
)
from infobench.estimators.neural._checks import (
    CONSTANT_CRITIC as _CONSTANT_CRITIC,  # noqa: F401  (read by tests/test_neural.py)
)
from infobench.estimators.neural._checks import (
    EstimateNearCeilingWarning,
    TrainingDivergedError,
    TrainingUnstableWarning,
)
from infobench.estimators.neural._config import METHODS, NeuralConfig
from infobench.estimators.neural._critics import JointCritic, SeparableCritic, build_critic
from infobench.estimators.neural._estimate import neural_mutual_information
from infobench.estimators.neural.kernels import infonce, mine, nwj, smile

__all__ = [
    "METHODS",
    "NeuralConfig",
    "JointCritic",
    "SeparableCritic",
    "TrainingDivergedError",
    "TrainingUnstableWarning",
    "EstimateNearCeilingWarning",
    "build_critic",
    "logmeanexp_offdiag",
    "dv_bound",
    "nwj_bound",
    "infonce_bound",
    "js_bound",
    "smile_bound",
    "mine_gradient_surrogate",
    "neural_mutual_information",
    "mine",
    "nwj",
    "infonce",
    "smile",
]
