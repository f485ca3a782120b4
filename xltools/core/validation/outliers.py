"""Outliers family: a value far outside the village's own history (DHIS2-style min–max).

For each report row and numeric indicator, the history is the same village's
values in up to ``window`` earlier reports. The bounds are Tukey's far-out
fences Q1 - factor*spread .. Q3 + factor*spread, where spread is the
interquartile range floored at ``min_spread`` and ``min_spread_share`` of the
median: a history of zeros (no drug cases) or of a steady count does not flag
every small change, and a village with fewer than ``min_history`` earlier
months is not judged at all. Everything is computed with numpy arrays: the
lagged values of all rows at once, sorted, and the quantiles interpolated.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Context, RuleConfigError, RuleRun, rule


def _quantile(sorted_values: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated quantile of each row's first ``counts`` values (NaN-last sorted)."""
    pos = np.maximum(counts - 1, 0) * q
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    a = np.take_along_axis(sorted_values, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_values, hi[:, None], axis=1)[:, 0]
    return a + (b - a) * (pos - lo)


def bounds(values: np.ndarray, groups: np.ndarray, window: int, factor: float, min_history: int,
           min_spread: float, min_spread_share: float) -> tuple[np.ndarray, ...]:
    """Per row (sorted by group, then time): history size, median, low and high bound."""
    n = len(values)
    lags = np.full((n, window), np.nan)
    for k in range(1, min(window, n - 1) + 1):
        same = groups[k:] == groups[:-k]
        lags[k:, k - 1] = np.where(same, values[:-k], np.nan)
    lags.sort(axis=1)  # NaN last
    counts = (~np.isnan(lags)).sum(axis=1)
    q1 = _quantile(lags, counts, 0.25)
    med = _quantile(lags, counts, 0.5)
    q3 = _quantile(lags, counts, 0.75)
    spread = np.maximum(q3 - q1, np.maximum(min_spread, min_spread_share * np.abs(med)))
    low = np.maximum(q1 - factor * spread, 0.0)
    high = q3 + factor * spread
    judged = counts >= min_history
    return counts, med, low, high, judged


@rule("report-outlier", "outliers", factor=float, window=int, min_history=int, min_spread=float, min_spread_share=float)
def report_outlier(ctx: Context, run: RuleRun) -> None:
    """Report values far outside the village's own history."""
    p = run.params
    if p["window"] < 1 or p["min_history"] < 1 or p["min_history"] > p["window"] or p["factor"] <= 0:
        raise RuleConfigError("outlier_params")
    frame = ctx.table("reports")
    if frame.empty:
        return
    keyed = frame[frame["period"].notna() & frame["village_code"].notna()]
    keyed = keyed.sort_values(["village_code", "period"], kind="stable")
    if len(keyed) <= p["min_history"]:
        return
    codes = pd.factorize(keyed["village_code"])[0]
    scope = ctx.report_scope(keyed).to_numpy()
    for ind in ctx.defs.numeric_indicators:
        if not ctx.has_column("reports", ind.key):
            continue
        values = keyed[ind.key].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        counts, med, low, high, judged = bounds(
            values, codes, p["window"], float(p["factor"]), p["min_history"], float(p["min_spread"]),
            float(p["min_spread_share"]),
        )
        with np.errstate(invalid="ignore"):
            mask = judged & scope & ~np.isnan(values) & ((values > high) | (values < low))
        if not mask.any():
            continue
        idx = keyed.index
        run.rows(
            "reports", keyed, pd.Series(mask, index=idx), ind.key,
            median=pd.Series(np.round(med, 1), index=idx),
            low=pd.Series(np.floor(low), index=idx).astype("Int64"),
            high=pd.Series(np.ceil(high), index=idx).astype("Int64"),
            n=pd.Series(counts, index=idx),
        )
