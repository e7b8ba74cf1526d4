"""PNG plots for the Dagster UI, drawn without pyplot's global state (safe in threads and
workers) on the Agg canvas, returned as bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**kwargs) -> Figure:
    """A matplotlib figure; matplotlib is imported on the first plot, not with the module (the
    Dagster code location imports this module in every step process, most of which draw nothing)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def elbow_silhouette_png(
    ks: Sequence[int], inertia: Sequence[float], silhouette: Sequence[float], chosen_k: int
) -> bytes:
    fig = _figure(figsize=(7, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(ks, inertia, "o-", color="tab:blue", label="inertia (sample)")
    ax.set_xlabel("k")
    ax.set_ylabel("inertia", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(ks, silhouette, "s--", color="tab:orange", label="silhouette")
    ax2.set_ylabel("silhouette", color="tab:orange")
    ax.axvline(chosen_k, color="grey", linestyle=":", label=f"chosen k={chosen_k}")
    ax.set_title("k-means: elbow and silhouette")
    fig.legend(loc="upper right")
    return _png(fig)


def pca_scatter_png(
    coords: np.ndarray, labels: Sequence[str], title: str = "Clusters (PCA projection)"
) -> bytes:
    fig = _figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    labels = np.asarray(labels)
    for name in sorted(set(labels.tolist())):
        m = labels == name
        ax.scatter(coords[m, 0], coords[m, 1], s=4, alpha=0.5, label=f"{name} ({m.sum()})")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title(title)
    ax.legend(markerscale=3, fontsize=8, loc="best")
    return _png(fig)


def roc_png(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> bytes:
    """curves: model name -> (fpr, tpr, auc)."""
    fig = _figure(figsize=(6, 6))
    ax = fig.add_subplot(1, 1, 1)
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC, out-of-time validation")
    ax.legend(loc="lower right")
    return _png(fig)


def calibration_png(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """curves: model name -> (mean predicted probability, observed frequency) per bin."""
    fig = _figure(figsize=(6, 6))
    ax = fig.add_subplot(1, 1, 1)
    for name, (pred, obs) in curves.items():
        ax.plot(pred, obs, "o-", label=name)
    top = max([1e-3] + [float(np.nanmax(np.r_[p, o])) for p, o in curves.values() if len(p)])
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed purchase rate")
    ax.set_title("Calibration, out-of-time validation")
    ax.legend(loc="upper left")
    return _png(fig)


def cluster_profile_png(
    names: Sequence[str], shares: Sequence[float], traits: Sequence[str], scores
) -> bytes:
    """The picture a marketer reads: one row per segment (with its share of customers), one column
    per trait, coloured by how far the segment's median is above (blue) or below (red) the median
    buyer's, in interquartile ranges."""
    scores = np.asarray(scores, dtype=float)
    fig = _figure(figsize=(1.1 * max(len(traits), 4) + 3, 0.55 * max(len(names), 3) + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    limit = max(1.0, float(np.nanmax(np.abs(scores))) if scores.size else 1.0)
    image = ax.imshow(scores, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(traits)), labels=list(traits), rotation=30, ha="right")
    ax.set_yticks(range(len(names)), labels=[f"{n} ({s:.0%})" for n, s in zip(names, shares, strict=True)])
    for (i, j), value in np.ndenumerate(scores):
        ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="median vs the median buyer (IQR)")
    ax.set_title("Segments: how each differs from the median buyer")
    return _png(fig)
