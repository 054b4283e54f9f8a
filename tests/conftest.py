import pytest
import torch

# The tests run many small tensor operations: one intra-op thread is faster
# for them than two (and far faster when the two cores are shared), and it
# keeps results independent of the machine's core count.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)
