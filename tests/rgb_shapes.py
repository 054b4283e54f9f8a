"""Small labelled RGB images the tests draw: coloured shapes on noisy backgrounds (no files needed)."""

import numpy as np

# class -> (shape, colour)
SHAPES = (("square", (220, 30, 30)), ("disc", (30, 200, 40)), ("cross", (40, 60, 230)))


def coloured_shapes(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (N, H, W, 3) and int64 labels: class c is SHAPES[c] at a random place."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(n, size, size, 3), dtype=np.uint8)
    labels = np.arange(n, dtype=np.int64) % len(SHAPES)
    yy, xx = np.mgrid[:size, :size]
    for i, c in enumerate(labels):
        r = size // 5
        cy, cx = rng.integers(r, size - r, size=2)
        if SHAPES[c][0] == "square":
            mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
        elif SHAPES[c][0] == "disc":
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            mask = ((abs(yy - cy) <= r // 3) & (abs(xx - cx) <= r)) | ((abs(xx - cx) <= r // 3) & (abs(yy - cy) <= r))
        images[i][mask] = SHAPES[c][1]
    return images, labels
