"""A hand-made stand-in for the 0.2 event-level keys of metrics.json (/work/coord contract,
docs/metrics.md), added to a real run's metrics so the tearsheet can be tested before (and
independently of) the statistics that produce them. Numbers are simple functions of the runs'
own per-window returns; the tests compare the page with these numbers, not with formulas."""

from __future__ import annotations

import copy
import statistics
from typing import Any


def _clusters(windows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    ws = sorted(windows, key=lambda w: (w["start_utc"], w["id"]))
    groups: list[list[dict[str, Any]]] = []
    for w in ws:
        if groups and w["start_utc"] <= max(x["end_utc"] for x in groups[-1]):
            groups[-1].append(w)
        else:
            groups.append([w])
    out, of = [], {}
    for i, g in enumerate(groups, 1):
        cid = f"c{i}"
        out.append({"id": cid, "windows": [w["id"] for w in g], "start_utc": g[0]["start_utc"],
                    "end_utc": max(w["end_utc"] for w in g), "reason": "overlap" if len(g) > 1 else "single"})
        of.update({w["id"]: cid for w in g})
    return out, of


def _event_level(rets: list[tuple[str, float, bool]], cluster_of: dict[str, str], wins: dict[str, dict]) -> dict[str, Any]:
    traded = [r for _, r, t in rets if t]
    vals = [r for _, r, _ in rets]
    if not vals:
        return {"n_events": 0, "n_clusters": 0, "n_traded": 0, "episodes": [], "mean": None, "median": None,
                "win_rate": None, "t_stat": None, "p_value": None, "sign_test_p": None, "ci_low": None,
                "ci_high": None, "ci_confidence": 0.95, "ci_method": "cluster bootstrap of the mean (seeded)",
                "nan_reason": "no episode"}
    mean = sum(vals) / len(vals)
    return {
        "n_events": len(rets), "n_clusters": len({cluster_of[w] for w, _, _ in rets}), "n_traded": len(traded),
        "episodes": [{"window": w, "cluster": cluster_of[w], "return": r, "traded": t,
                      "entry_utc": wins[w]["closes_utc"][min(len(wins[w]["closes_utc"]) - 1, wins[w]["pre"])] if t else None,
                      "exit_utc": wins[w]["end_utc"] if t else None, "shock": -0.05 - 0.01 * i}
                     for i, (w, r, t) in enumerate(rets)],
        "mean": mean, "median": statistics.median(vals),
        "win_rate": (sum(r > 0 for r in traded) / len(traded)) if traded else None,
        "t_stat": 1.234, "p_value": 0.2171, "sign_test_p": 0.375,
        "ci_low": mean - 0.0312, "ci_high": mean + 0.0287, "ci_confidence": 0.95,
        "ci_method": "cluster bootstrap of the mean (seeded)", "nan_reason": None,
        "shock_slope": {"slope": -0.5, "intercept": 0.001, "se": 0.2, "t_stat": -2.5, "p_value": 0.0667, "df": 2,
                        "ci_low": -1.36, "ci_high": 0.36, "confidence": 0.95, "n": len(rets), "n_clusters": 3,
                        "method": "OLS, CR1 cluster-robust standard errors, Student t with G - 1 df",
                        "nan_reason": None},
    }


def _tests(seed: float) -> dict[str, Any]:
    names = ["t", "bmp", "kolari_pynnonen", "grank", "generalized_sign", "calendar_time"]
    out = {n: {"stat": round(seed + 0.5 * i, 4), "p_value": round(0.01 + 0.07 * i, 4)} for i, n in enumerate(names)}
    out["kolari_pynnonen"] = {"stat": None, "p_value": None, "nan_reason": "one cluster"}
    return out


def add_contract_keys(metrics: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``metrics`` with the 0.2 event-level keys filled in."""
    m = copy.deepcopy(metrics)
    wins = {w["id"]: w for w in m["windows"]}
    runs_by: dict[tuple[str, int], list[dict]] = {}
    for r in m["runs"]:
        runs_by.setdefault((r["strategy"], r["combo"]), []).append(r)
    n_by: dict[str, int] = {}
    for p in m["pooled"]:
        n_by[p["strategy"]] = n_by.get(p["strategy"], 0) + 1
    for si, s in enumerate(m["strategies"]):
        clusters, cluster_of = _clusters([wins[w] for w in s["windows"]])
        s["clusters"] = clusters

        def rets(combo: int) -> list[tuple[str, float, bool]]:
            rs = sorted(runs_by.get((s["label"], combo), []), key=lambda r: wins[r["window"]]["start_utc"])
            return [(r["window"], r["metrics"]["total_return"], (r["metrics"].get("n_trades") or 0) > 0) for r in rs]

        combos = sorted({c for c in (s.get("best_combo"), s.get("default_combo")) if c is not None})
        s["event_level"] = {str(c): _event_level(rets(c), cluster_of, wins) for c in combos}
        base = _event_level([(w, r * 0.5 - 0.004, True) for w, r, _ in rets(combos[0])], cluster_of, wins)
        sym = sorted((s.get("roles") or {}).values())[0] if s.get("roles") else "?"
        s["baseline"] = {"symbol": sym, "rule": "long 1.0 in the strategy's first traded symbol over each same episode",
                         "event_level": base}
        best = s["event_level"][str(combos[0])]
        nc = best["n_clusters"]
        per = [{"cluster": c["id"], "chosen_combo": combos[0], "chosen_params": {}, "return": 0.01 * (k - 1) - 0.004,
                "n_events": len(c["windows"])} for k, c in enumerate(clusters)]
        oos_mean = sum(p["return"] for p in per) / len(per) if per else None
        loco = {"per_cluster": per, "mean": oos_mean, "median": statistics.median([p["return"] for p in per]) if per else None,
                "win_rate": sum(p["return"] > 0 for p in per) / len(per) if per else None, "n_clusters": nc,
                "in_sample_mean": best["mean"], "gap": (best["mean"] - oos_mean) if best["mean"] is not None and oos_mean is not None else None,
                "nan_reason": None}
        s["oos"] = {"loco": loco, "walk_forward": {**loco, "mean": (oos_mean or 0) - 0.001, "min_train_clusters": 2}}
        n_raw = n_by.get(s["label"], 1)
        s["trials"] = {"n_raw": n_raw, "n_distinct": max(1, n_raw // 2), "sr0": 0.123, "best_sharpe": 0.2,
                       "sharpe_hist": {"edges": [-0.2, -0.1, 0.0, 0.1, 0.2, 0.3], "counts": [1, 3, n_raw, 2, 1]},
                       "units": "per-period Sharpe"}
        es = s.get("event_study") or {}
        if es.get("asset"):
            es["asset"]["tests"] = _tests(-1.5 - si)
        for c, rec in (es.get("strategy") or {}).items():
            rec["tests"] = _tests(2.0 + si)
    for p in m["pooled"]:
        key = (p["strategy"], p["combo"])
        p["metrics"]["n_events"] = len(runs_by.get(key, []))
        p["metrics"]["n_clusters"] = max(1, len(runs_by.get(key, [])) - 1)
        p["events"] = {"n_events": p["metrics"]["n_events"], "n_clusters": p["metrics"]["n_clusters"],
                       "n_traded": p["metrics"]["n_events"], "mean": 0.01, "median": 0.005, "win_rate": 0.5,
                       "t_stat": 1.0, "p_value": 0.3}
        p["trust"]["n_trials_raw"] = n_by[p["strategy"]]
        p["trust"]["n_trials"] = max(1, n_by[p["strategy"]] // 2)
        p["n_identical"] = 2 if p["combo"] % 2 == 0 and n_by[p["strategy"]] > 1 else 1
    return m
