"""XGBoost hyperparameters: fixed ones and the search space, shared by the SageMaker
tuning step and the local Bayesian search so both explore the same space."""

from __future__ import annotations

# Built-in XGBoost container version for training (and as the evaluation image).
XGBOOST_VERSION = "3.0-5"

STATIC = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": 400,
    "early_stopping_rounds": 20,
    "tree_method": "hist",
}

# name -> (kind, low, high, scale); kind is "continuous" or "integer".
SEARCH_SPACE = {
    "eta": ("continuous", 0.01, 0.3, "Logarithmic"),
    "max_depth": ("integer", 2, 8, "Linear"),
    "min_child_weight": ("continuous", 1.0, 10.0, "Linear"),
    "subsample": ("continuous", 0.5, 1.0, "Linear"),
    "colsample_bytree": ("continuous", 0.5, 1.0, "Linear"),
    "alpha": ("continuous", 1e-3, 10.0, "Logarithmic"),
    "lambda": ("continuous", 1e-3, 10.0, "Logarithmic"),
}

OBJECTIVE_METRIC = "validation:auc"
