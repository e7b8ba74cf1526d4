"""Model lifecycle: versioned artifacts, champion pointers, champion/challenger, model_runs rows.

Layout under `models_dir` (default data/models):

    <model_name>/<version>/model.joblib     the whole fitted object (Pipeline or parameter object)
    <model_name>/<version>/metadata.json    library versions, features, training window, data
                                            fingerprint, metrics, random_state, promotion decision
    <model_name>/champion.json              {"version": ..., "promoted_at": ..., "reason": ...}

version = <trained_at UTC %Y%m%dT%H%M%SZ>-<first 8 hex of the data fingerprint>.

Champion/challenger: every trained model is saved; it becomes champion only if its holdout score
is not worse than the champion's score on the SAME holdout by more than `tolerance` (the champion
is re-evaluated on that holdout, not compared through its old metrics). No champion, or a
champion that can no longer be evaluated (e.g. its features are gone), means promotion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def library_versions() -> dict[str, str]:
    import duckdb
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
        "duckdb": duckdb.__version__,
    }


def data_fingerprint(df: pd.DataFrame) -> str:
    """Stable SHA-256 of a frame's content, independent of row and column order."""
    cols = sorted(df.columns)
    h = hashlib.sha256()
    h.update(json.dumps([[c, str(df[c].dtype)] for c in cols]).encode())
    if len(df):
        rows = pd.util.hash_pandas_object(df[cols], index=False).to_numpy(dtype=np.uint64)
        h.update(np.sort(rows).tobytes())
    return h.hexdigest()


def _finite(o):
    """NaN/inf become null: metadata.json must be strict JSON for DuckDB and other readers."""
    if isinstance(o, float | np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, np.integer | np.bool_):
        return o.item()
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    return o


def _dumps(o, **kw) -> str:
    return json.dumps(_finite(o), default=_json_default, allow_nan=False, **kw)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pd.Timestamp, datetime)):
        return o.isoformat()
    return str(o)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass
class ModelVersion:
    model_name: str
    version: str
    path: Path


class ModelRegistry:
    """Files-only model registry (no server): safe to read while another run writes, because
    artifacts are written before the pointer and the pointer is replaced atomically."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def save(
        self, model_name: str, model, metadata: dict, *, trained_at: datetime, fingerprint: str
    ) -> ModelVersion:
        base = f"{trained_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{fingerprint[:8]}"
        version, i = base, 1
        while (self.root / model_name / version).exists():
            i += 1
            version = f"{base}-{i}"
        path = self.root / model_name / version
        path.mkdir(parents=True)
        joblib.dump(model, path / "model.joblib", compress=3)
        _atomic_write(
            path / "metadata.json",
            _dumps({**metadata, "version": version}, indent=2),
        )
        return ModelVersion(model_name, version, path)

    def update_metadata(self, mv: ModelVersion, **fields) -> None:
        meta = json.loads((mv.path / "metadata.json").read_text())
        meta.update(fields)
        _atomic_write(mv.path / "metadata.json", _dumps(meta, indent=2))

    def champion_version(self, model_name: str) -> str | None:
        ptr = self.root / model_name / "champion.json"
        return json.loads(ptr.read_text())["version"] if ptr.exists() else None

    def set_champion(self, model_name: str, version: str, reason: str) -> None:
        if not (self.root / model_name / version / "model.joblib").exists():
            raise FileNotFoundError(f"{model_name}/{version} has no artifact")
        _atomic_write(
            self.root / model_name / "champion.json",
            json.dumps(
                {"version": version, "promoted_at": datetime.now(UTC).isoformat(), "reason": reason}, indent=2
            ),
        )

    def load(self, model_name: str, version: str | None = None):
        """(model, metadata) of `version`, or of the champion when version is None."""
        version = version or self.champion_version(model_name)
        if version is None:
            raise FileNotFoundError(f"no champion for {model_name}")
        path = self.root / model_name / version
        return joblib.load(path / "model.joblib"), json.loads((path / "metadata.json").read_text())

    def versions(self, model_name: str) -> list[str]:
        d = self.root / model_name
        return sorted(p.name for p in d.iterdir() if (p / "model.joblib").exists()) if d.exists() else []


def promotion_decision(
    challenger: float, champion: float | None, *, tolerance: float, higher_is_better: bool = True
) -> tuple[bool, str]:
    """Promote unless the challenger is worse than the champion by more than `tolerance`."""
    if champion is None or not np.isfinite(champion):
        return True, "no comparable champion"
    if not np.isfinite(challenger):
        return False, "challenger score is not finite"
    gap = (champion - challenger) if higher_is_better else (challenger - champion)
    if gap > tolerance + 1e-12:  # exactly at the tolerance counts as within it
        return (
            False,
            f"challenger {challenger:.4f} worse than champion {champion:.4f} by {gap:.4f} > {tolerance}",
        )
    return (
        True,
        f"challenger {challenger:.4f} vs champion {champion:.4f}: within tolerance {tolerance} or better",
    )


def register_model(
    registry: ModelRegistry,
    model_name: str,
    model,
    *,
    challenger_score: float,
    evaluate: Callable[[object], float] | None,
    metric_name: str,
    champion_comparable: Callable[[dict], str | None] | None = None,
    higher_is_better: bool = True,
    tolerance: float = 0.005,
    training_frame: pd.DataFrame | None = None,
    training_window: dict | None = None,
    features: dict | None = None,
    metrics: dict | None = None,
    random_state: int | None = None,
    n_train: int | None = None,
    trained_at: datetime | None = None,
    extra_metadata: dict | None = None,
) -> dict:
    """Save the challenger, compare it with the champion on the same holdout, move the champion
    pointer if it wins, and return the model_runs record.

    `challenger_score` is the challenger's score on the holdout (computed by a model that did
    not train on it); `evaluate(model)` re-scores the champion on that same holdout.
    `champion_comparable(champion_metadata)` returns why the champion cannot be judged on this
    holdout (typically: it trained on it, as when a run is repeated for the same as_of), or
    None; a champion that saw the holdout would win on memory, so the fresher model is promoted.
    """
    trained_at = trained_at or datetime.now(UTC)
    fp = data_fingerprint(training_frame) if training_frame is not None else "0" * 64
    n_train = (
        n_train if n_train is not None else (len(training_frame) if training_frame is not None else None)
    )
    meta = {
        "model_name": model_name,
        "trained_at": trained_at.isoformat(),
        "libraries": library_versions(),
        "features": features or {},
        "training_window": training_window or {},
        "data_fingerprint": fp,
        "n_train": n_train,
        "metrics": metrics or {},
        "holdout_metric": metric_name,
        "holdout_score": challenger_score,
        "random_state": random_state,
        **(extra_metadata or {}),
    }
    mv = registry.save(model_name, model, meta, trained_at=trained_at, fingerprint=fp)

    champ_version = registry.champion_version(model_name)
    champ_score = None
    not_comparable = None
    if champ_version is not None and evaluate is not None:
        try:
            champ_model, champ_meta = registry.load(model_name, champ_version)
            not_comparable = champion_comparable(champ_meta) if champion_comparable else None
            if not_comparable is None:
                champ_score = float(evaluate(champ_model))
        except Exception as exc:  # a champion that cannot score the holdout cannot defend its title
            log.warning("champion %s/%s could not be evaluated: %s", model_name, champ_version, exc)
    promoted, reason = promotion_decision(
        challenger_score, champ_score, tolerance=tolerance, higher_is_better=higher_is_better
    )
    if champ_version is not None and evaluate is None:
        promoted, reason = True, "no holdout evaluation supplied; latest model promoted"
    if not_comparable is not None:
        promoted, reason = (
            True,
            f"champion not comparable on this holdout ({not_comparable}); fresher model promoted",
        )
    if promoted:
        registry.set_champion(model_name, mv.version, reason)
    registry.update_metadata(
        mv,
        promoted=promoted,
        promotion_reason=reason,
        champion_before=champ_version,
        champion_score=champ_score,
    )
    window = training_window or {}
    return {
        "run_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model_name}/{mv.version}")),
        "model_name": model_name,
        "version": mv.version,
        "trained_at": trained_at,
        "training_window_start": window.get("first_cutoff") or window.get("start"),
        "training_window_end": window.get("label_window_end") or window.get("end"),
        "data_fingerprint": fp,
        "n_train": n_train,
        "metrics": _dumps(metrics or {}, sort_keys=True),
        "holdout_metric": metric_name,
        "holdout_score": challenger_score,
        "champion_version": champ_version,
        "champion_score": champ_score,
        "promoted": promoted,
        "reason": reason,
        "artifact_path": str(mv.path / "model.joblib"),
    }


def save_plots(model_run: dict, plots: dict[str, bytes]) -> dict[str, Path]:
    """Each PNG of a training run saved under plots/ beside its model, so the version directory
    keeps the curves its promotion was judged on."""
    directory = Path(model_run["artifact_path"]).parent / "plots"
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, png in plots.items():
        paths[name] = directory / f"{name}.png"
        paths[name].write_bytes(png)
    return paths


MODEL_RUN_TYPES = {
    "run_id": "string",
    "model_name": "string",
    "version": "string",
    "trained_at": "datetime64[us, UTC]",
    "training_window_start": "string",
    "training_window_end": "string",
    "data_fingerprint": "string",
    "n_train": "Int64",
    "metrics": "string",
    "holdout_metric": "string",
    "holdout_score": "Float64",
    "champion_version": "string",
    "champion_score": "Float64",
    "promoted": "boolean",
    "reason": "string",
    "artifact_path": "string",
}


def model_runs_frame(runs: list[dict]) -> pd.DataFrame:
    """model_runs records with one fixed type per column, so that runs of different models (a
    clustering run has no training window end, a BTYD run no start) append to one table."""
    frame = pd.DataFrame(runs)
    for column, dtype in MODEL_RUN_TYPES.items():
        if column not in frame.columns:
            frame[column] = None
        if dtype.startswith("datetime"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif dtype == "string":
            frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v)).astype(dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    extra = [c for c in frame.columns if c not in MODEL_RUN_TYPES]
    return frame[[*MODEL_RUN_TYPES, *extra]]
