"""kNN estimators' input handling: per-sample KL jitter, the discrete flags."""

import math

import numpy as np
import pytest

import infobench
from infobench.estimators.knn import knn_kl_divergence, ksg_mutual_information


@pytest.mark.parametrize("ratio", [1e-9, 1e-11, 1e-13, 1e-15])
def test_kl_does_not_saturate_when_p_is_far_narrower_than_q(ratio):
    # With P's spread <= 1e-11 of Q's, the pooled-spread jitter
    # swamped P and every ratio read 47.73 nats. D(N(0, s^2) || N(0, 1)) =
    # -log s + (s^2 - 1)/2. n=m=2000: the estimate's sd is ~0.03 nats, and
    # 1-NN KL has a bias of a few tenths of a nat at this divergence; 0.5 nats
    # is far below the 20+ nats the saturation cost.
    rng = np.random.default_rng(0)
    q = rng.normal(size=2000)
    p = ratio * rng.normal(size=2000)
    truth = -math.log(ratio) + (ratio**2 - 1) / 2
    assert knn_kl_divergence(p, q, seed=0).value == pytest.approx(truth, abs=0.5)


def test_ksg_discrete_flags_follow_the_histogram_names():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, size=800)
    y = labels + rng.normal(size=800)
    auto = ksg_mutual_information(labels, y, seed=0)
    assert auto.extras["estimator"] == "Ross"
    forced = ksg_mutual_information(labels.astype(float), y, discrete_x=True, seed=0)
    assert forced.extras["estimator"] == "Ross" and forced.value == pytest.approx(auto.value, abs=1e-12)
    side_y = ksg_mutual_information(y, labels.astype(float), discrete_y=True, seed=0)
    assert side_y.value == pytest.approx(auto.value, abs=1e-12)
    cont = ksg_mutual_information(labels, y, discrete_x=False, seed=0)
    assert cont.extras["estimator"] == "KSG-1"
    # The benchmark worker passes the tasks' discrete_x / discrete_y to every method that takes them.
    assert {"discrete_x", "discrete_y"} <= set(infobench.estimators.get_method("mi", "ksg").params)
    assert {"discrete_x", "discrete_y"} <= set(infobench.estimators.get_method("mi", "histogram").params)
    with pytest.raises(ValueError, match=r"x and y are both discrete \(discrete_x, discrete_y\): KSG"):
        ksg_mutual_information(y, y + 1, discrete_x=True, discrete_y=True)
    with pytest.raises(TypeError, match=r"discrete_y must be True or False; got 'x'"):
        ksg_mutual_information(y, y + 1, discrete_y="x")


def test_ksg_discrete_is_a_deprecated_alias():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=500)
    y = labels + rng.normal(size=500)
    with pytest.warns(DeprecationWarning, match=r"ksg: discrete= is deprecated.*use discrete_x=True / discrete_y"):
        old = ksg_mutual_information(y, labels.astype(float), discrete="y", seed=0)
    assert old.value == ksg_mutual_information(y, labels.astype(float), discrete_y=True, seed=0).value
    with pytest.raises(ValueError, match=r"pass discrete_x / discrete_y, not also the deprecated discrete"):
        ksg_mutual_information(y, labels, discrete="y", discrete_y=True)
