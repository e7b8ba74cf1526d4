"""Small purpose-built simulators for ml/ tests (the contract-wide one is ml.synthetic)."""

import numpy as np
import pandas as pd

from ml.features import CUTOFF, KEY

# Five segments, centres in log space (frequency, monetary, views, tenure).
BLOB_CENTRES = np.array([[0.5, 1, 3, 4], [2, 3, 1, 5], [3.5, 2, 4, 2], [1, 4.5, 2, 6], [4, 4, 0.5, 3]]) * 1.2


def skewed_blobs(n: int, *, sd: float = 0.45, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers from planted segments that are separated in log space, emitted on the raw,
    heavy-tailed count and money scale the marts produce (k-means on raw values fails here)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(BLOB_CENTRES), n)
    logs = BLOB_CENTRES[truth] + rng.normal(0, sd, size=(n, 4))
    frame = pd.DataFrame(
        {
            KEY: [f"B{i:06d}" for i in range(n)],
            CUTOFF: pd.Timestamp("2026-01-01"),
            "frequency_orders": np.round(np.expm1(logs[:, 0])),
            "monetary_total": np.expm1(logs[:, 1] + 2),
            "product_views_30d": np.round(np.expm1(logs[:, 2])),
            "tenure_days": np.expm1(logs[:, 3] + 1),
        }
    )
    return frame, truth
