"""Micro-segments: behavioural clustering of customers with model selection, stability and names.

Procedure (all seeded, all on rows sorted by customer_key so input order cannot matter):
0. Prospects by rule: customers with no completed order before the cutoff form the "Prospects"
   group (the id after the last cluster) and are not clustered: never buying is known, not found,
   and as a clustering axis it splits buyers from non-buyers and nothing else. The buyers are
   clustered, and names compare their clusters with the buyers' population.
1. Preprocess (signed log1p for skewed columns, median imputation with missing indicators,
   StandardScaler, one-hot for any categoricals) and optionally PCA keeping `pca_variance`.
2. Two hash-based samples of customers: the selection sample (k-means per k, GMM) and the
   smaller evaluation sample (silhouette for every candidate; Ward and HDBSCAN fitted there).
3. Select (ml.cluster_selection): k-means for each k in `k_values` (default 3..8): inertia
   (elbow) and silhouette; k = best silhouette among solutions whose smallest cluster holds at
   least `min_cluster_share` (default 5 %) of the evaluation sample. On continuous behavioural
   data silhouette almost always falls with k, so the lower end of the range is a product
   decision: three segments is the fewest worth a distinct message. When no k of the range gives
   clusters that large, the best k is kept and the report says the data did not support it
   (`supported: false`). The final k-means
   is refit on all rows (MiniBatchKMeans above `minibatch_threshold`) from the sample centres.
   Challengers on the same evaluation sample: Ward (each k), GaussianMixture (each k), HDBSCAN
   (finds its own k; noise points join the nearest cluster mean since everyone needs a segment).
4. Validate (ml.cluster_validation): only plausible solutions compete (k inside `k_values`,
   smallest cluster >= `min_cluster_share`, HDBSCAN noise <= `max_noise_share`).
5. Winner = highest silhouette on the evaluation sample among plausible solutions; k-means
   keeps the title unless a challenger beats it by more than `simplicity_margin`, because it
   scores new customers natively. Ward/HDBSCAN winners are extended to all rows with a
   k-nearest-neighbour classifier trained on the evaluation sample.
6. Stability: mean/std adjusted Rand index between the winner's labels and refits on bootstrap
   resamples of the evaluation sample, compared on the resampled points.
7. Difference tests: Kruskal-Wallis per numeric feature and chi-square per categorical across
   clusters, with effect sizes.
8. Names from the clusters' medians against the buyers' (ml.cluster_names): every word of a
   name is true of the cluster's medians (name_claims), and names are unique by construction.
9. Report (ml.cluster_report): customer_clusters, cluster_profiles, the JSON report and plots.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances
from sklearn.pipeline import Pipeline

from ml.cluster_names import PROSPECTS, is_buyer, name_clusters
from ml.cluster_report import cluster_profiles, clustering_plots, clustering_report, customer_clusters_table
from ml.cluster_selection import (
    assigning_estimator,
    candidate,
    challenger_candidates,
    choose_k,
    choose_winner,
    kmeans_curve,
    refit_kmeans,
    relabel,
    silhouette,
    stable_label_map,
)
from ml.cluster_validation import bootstrap_stability, cluster_difference_tests, is_plausible
from ml.features import (
    CLUSTER_FEATURES,
    KEY,
    SKEWED_FEATURES,
    FeatureSpec,
    align_columns,
    build_preprocessor,
    latest_cutoff,
    resolve_features,
    stable_unit_hash,
)

log = logging.getLogger(__name__)


@dataclass
class ClusteringConfig:
    k_values: Sequence[int] = tuple(range(3, 9))
    selection_sample: int = 50_000
    gmm_sample: int = 8_000
    eval_sample: int = 4_000
    minibatch_threshold: int = 200_000
    pca_variance: float | None = 0.95
    min_cluster_share: float = 0.05
    max_noise_share: float = 0.25
    simplicity_margin: float = 0.01
    algorithms: Sequence[str] = ("kmeans", "ward", "gmm", "hdbscan")
    n_bootstrap: int = 10
    test_sample: int = 200_000
    random_state: int = 42


@dataclass
class ClusterModel:
    """Everything needed to assign a new customer: fitted transform + clusterer, centres in the
    transformed space, the map from raw estimator labels to stable cluster ids, and names."""

    transform: Pipeline
    estimator: object
    centres: np.ndarray
    label_map: dict[int, int]
    names: dict[int, str]
    spec: FeatureSpec
    algorithm: str
    k: int
    random_state: int
    prospect_id: int | None = None  # the prospects group (no order yet), assigned by rule

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline([*self.transform.steps, ("cluster", self.estimator)])

    def predict(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(cluster_id, distance to the cluster centre in the transformed space) per row; a
        prospect (no order yet) gets the prospects group and no distance."""
        z = self.transform.transform(align_columns(features, self.spec))
        ids = relabel(self.label_map, self.estimator.predict(z))
        dist = np.linalg.norm(z - self.centres[ids], axis=1)
        prospect_id = getattr(self, "prospect_id", None)  # None: a model saved before the rule
        if prospect_id is not None:
            prospect = ~is_buyer(features)
            ids = np.where(prospect, prospect_id, ids)
            dist = np.where(prospect, np.nan, dist)
        return ids, dist


@dataclass
class ClusteringResult:
    model: ClusterModel
    customer_clusters: pd.DataFrame
    cluster_profiles: pd.DataFrame
    report: dict
    plots: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ClusteringSpace:
    """The latest customers in the transformed feature space, with the two hash samples."""

    customers: pd.DataFrame  # the buyers: the rows that are clustered
    everyone: pd.DataFrame  # every latest customer, prospects included
    spec: FeatureSpec
    transform: Pipeline
    k_values: list[int]
    Z: np.ndarray  # every customer
    selection: np.ndarray  # k-means per k
    gmm: np.ndarray  # the first gmm_sample rows of the selection sample
    evaluation: np.ndarray  # silhouette of every candidate; Ward and HDBSCAN are fitted here
    distances: np.ndarray  # pairwise distances of the evaluation sample, computed once


def hash_sample(keys: pd.Series, size: int, random_state: int) -> np.ndarray:
    """Sorted row positions of a sample chosen by a hash of the key: the same customers in every
    run whatever the input order or the other customers."""
    order = np.argsort(stable_unit_hash(keys, salt=f"cluster{random_state}"), kind="stable")
    return np.sort(order[:size])


def prepare_space(
    features: pd.DataFrame,
    cfg: ClusteringConfig,
    *,
    numeric: Sequence[str] | None,
    categorical: Sequence[str] | None,
    skewed: Sequence[str] | None,
    as_of,
) -> ClusteringSpace:
    everyone = latest_cutoff(features, as_of).reset_index(drop=True)
    df = everyone[is_buyer(everyone)].reset_index(drop=True)
    spec = resolve_features(
        df,
        CLUSTER_FEATURES if numeric is None else numeric,
        () if categorical is None else categorical,
        SKEWED_FEATURES if skewed is None else skewed,
    )
    X = align_columns(df, spec)
    n = len(X)
    k_values = [k for k in cfg.k_values if 2 <= k <= max(2, n // 20)]
    if not k_values:
        raise ValueError(f"too few buyers ({n} of {len(everyone)} customers) to cluster")
    steps = [("prep", build_preprocessor(spec))]
    if cfg.pca_variance:
        steps.append(
            ("pca", PCA(n_components=cfg.pca_variance, svd_solver="full", random_state=cfg.random_state))
        )
    transform = Pipeline(steps)
    Z = np.ascontiguousarray(transform.fit_transform(X), dtype=np.float64)
    selection = Z[hash_sample(df[KEY], min(n, cfg.selection_sample), cfg.random_state)]
    evaluation = Z[hash_sample(df[KEY], min(n, cfg.eval_sample), cfg.random_state)]
    return ClusteringSpace(
        customers=df,
        everyone=everyone,
        spec=spec,
        transform=transform,
        k_values=k_values,
        Z=Z,
        selection=selection,
        gmm=selection[: cfg.gmm_sample],
        evaluation=evaluation,
        distances=pairwise_distances(evaluation),
    )


def _select(space: ClusteringSpace, cfg: ClusteringConfig) -> tuple[dict, list[dict], list[dict], int]:
    """Candidate selection: k-means over k, the challengers, plausibility, the winner. Returns
    (winner, every candidate, the k-means curve, the k-means k)."""
    Ze, D, k_values = space.evaluation, space.distances, space.k_values
    curve, sample_models = kmeans_curve(space.selection, Ze, D, k_values, cfg.random_state)
    k_best = choose_k(curve, cfg.min_cluster_share)
    final_km = refit_kmeans(space.Z, sample_models[k_best], cfg)
    kmeans = candidate("kmeans", k_best, final_km.predict(Ze), D, estimator=final_km)
    challengers = challenger_candidates(Ze, space.gmm, D, k_values, cfg)
    candidates = [kmeans, *challengers]
    for c in candidates:
        c["eligible"] = is_plausible(
            c, k_values, min_cluster_share=cfg.min_cluster_share, max_noise_share=cfg.max_noise_share
        )
    return choose_winner(kmeans, challengers, cfg.simplicity_margin), candidates, curve, k_best


def _fit_winner(space: ClusteringSpace, winner: dict, random_state: int) -> tuple[ClusterModel, np.ndarray]:
    """The winner assigns every buyer; ids ordered by size; names from the clusters' medians
    against the buyers'; prospects are the group after the last cluster. Returns the model and
    each buyer's cluster id."""
    Z = space.Z
    estimator = assigning_estimator(winner, space.evaluation)
    raw = estimator.predict(Z)
    label_map = stable_label_map(raw, Z)
    ids = relabel(label_map, raw)
    k = len(label_map)
    centres = np.vstack([Z[ids == c].mean(axis=0) for c in range(k)])
    model = ClusterModel(
        transform=space.transform,
        estimator=estimator,
        centres=centres,
        label_map=label_map,
        names={**name_clusters(space.customers, ids, space.spec), k: PROSPECTS},
        spec=space.spec,
        algorithm=winner["algorithm"],
        k=k,
        random_state=random_state,
        prospect_id=k,
    )
    return model, ids


def fit_clusters(
    features: pd.DataFrame,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    skewed: Sequence[str] | None = None,
    config: ClusteringConfig | None = None,
    as_of=None,
) -> ClusteringResult:
    """Fit micro-segments on the latest cutoff of `customer_features` (or the given `as_of`).

    Defaults: numeric = CLUSTER_FEATURES, no categoricals. Returns customer_clusters
    (customer_key, cluster_id, cluster_name, distance_to_centre), cluster_profiles, a JSON-able
    report and PNG plots.
    """
    cfg = config or ClusteringConfig()
    rs = cfg.random_state
    space = prepare_space(features, cfg, numeric=numeric, categorical=categorical, skewed=skewed, as_of=as_of)
    Z, Ze = space.Z, space.evaluation
    winner, candidates, curve, k_best = _select(space, cfg)
    model, ids = _fit_winner(space, winner, rs)
    k, names = model.k, model.names

    reference = relabel(model.label_map, model.estimator.predict(Ze))
    stability = bootstrap_stability(
        winner["algorithm"],
        k,
        Ze,
        reference,
        n_bootstrap=cfg.n_bootstrap,
        min_cluster_share=cfg.min_cluster_share,
        random_state=rs,
    )
    tests = cluster_difference_tests(
        space.customers, ids, space.spec, sample=cfg.test_sample, random_state=rs
    )
    everyone_ids, everyone_dist = model.predict(space.everyone)
    profiles = cluster_profiles(space.everyone, everyone_ids, names)

    report = clustering_report(
        winner=winner,
        k=k,
        n_customers=len(Z),
        spec=space.spec,
        n_components=Z.shape[1],
        n_evaluation=len(Ze),
        k_values=space.k_values,
        cfg=cfg,
        curve=curve,
        candidates=candidates,
        stability=stability,
        tests=tests,
        names=names,
        profiles=profiles,
        n_prospects=int((everyone_ids == model.prospect_id).sum()),
    )
    return ClusteringResult(
        model,
        customer_clusters_table(space.everyone[KEY], everyone_ids, names, everyone_dist),
        profiles,
        report,
        clustering_plots(curve, k_best, Ze, reference, names, rs, profiles),
    )


def assign_clusters(model: ClusterModel, features: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Assign customers (latest cutoff) to a persisted model's clusters."""
    df = latest_cutoff(features, as_of)
    ids, dist = model.predict(df)
    return customer_clusters_table(df[KEY], ids, model.names, dist)


def silhouette_in_space(
    model: ClusterModel, features: pd.DataFrame, space: ClusterModel, *, sample: int = 4_000, as_of=None
) -> float:
    """Champion/challenger metric: silhouette of `model`'s assignment measured in `space`'s
    transformed feature space (the challenger's), on a hash sample of the latest customers, so a
    champion and a challenger are compared on the same points in the same geometry."""
    df = latest_cutoff(features, as_of)
    df = df[is_buyer(df)].reset_index(drop=True)
    df = df.iloc[hash_sample(df[KEY], sample, space.random_state)]
    Z = space.transform.transform(align_columns(df, space.spec))
    ids, _ = model.predict(df)
    return silhouette(pairwise_distances(Z), ids)
