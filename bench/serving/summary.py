"""The headline: ratios from this run, single-row requests at 32 connections (or the most)."""

from __future__ import annotations

from typing import Any

from . import inprocess, overload, report


def _at(points: list[dict[str, Any]], model: str, rows: int, server: str) -> dict[str, Any] | None:
    mine = [p for p in points if (p["model"], p["rows"], p["server"]) == (model, rows, server)]
    exact = [p for p in mine if p["connections"] == 32]
    return (exact or sorted(mine, key=lambda p: p["connections"]))[-1] if mine else None


def headline(results: dict[str, Any]) -> dict[str, Any]:
    points = results["points"]
    out: dict[str, Any] = {}
    for model in dict.fromkeys(p["model"] for p in points):
        ours = _at(points, model, 1, "ours")
        if ours is None:
            continue
        entry: dict[str, Any] = {
            "connections": ours["connections"],
            "ours_rps": ours["rps"],
            "ours_p99_over_p50": ours["p99_ms"] / ours["p50_ms"],
        }
        for server in dict.fromkeys(p["server"] for p in points):
            other = _at(points, model, 1, server)
            if server != "ours" and other is not None and other["rps"] > 0:
                entry[f"ours_over[{server}]"] = ours["rps"] / other["rps"]
                entry[f"p99_ms[{server}]"] = other["p99_ms"]
        limit = results["in_process"].get(model, {}).get("fast path")
        if limit and ours.get("mean_batch_rows"):
            ceiling = inprocess.at_batch({int(k): v for k, v in limit.items()},
                                         ours["mean_batch_rows"])  # fmt: skip
            entry["mean_batch_rows"] = ours["mean_batch_rows"]
            entry["ours_rows_over_in_process"] = ours["rps"] / ceiling
            # What FastAPI on uvicorn answers with no model at all, against the same ceiling:
            # no single-row server on this stack can reach a larger share here.
            floor = results["ceilings"]["uvicorn_fastapi_32_connections"]
            entry["fastapi_floor_over_in_process"] = floor["rps"] / ceiling
            entry["ours_over_fastapi_floor"] = ours["rps"] / floor["rps"]
        out[model] = entry
    return out


def print_all(results: dict[str, Any]) -> None:
    points = results["points"]
    for model, rows in dict.fromkeys((p["model"], p["rows"]) for p in points):
        report.print_points(
            model, rows, [p for p in points if (p["model"], p["rows"]) == (model, rows)]
        )
    for model, limits in results["in_process"].items():
        print(f"\n{model}, in-process rows/s by batch size (no HTTP)")
        for label, rates in limits.items():
            cells = "  ".join(f"{size}: {rate:,.0f}" for size, rate in rates.items())
            print(f"  {label:<20} {cells}")
    for figures in results["overload"].values():
        overload.print_summary(figures)
    print("\nwith no model, wrk at 32 connections (the generator's ceiling, our stack's floor)")
    for key, label in (("trivial_responder", "a minimal uvloop responder"),
                       ("uvicorn_bare_asgi", "uvicorn, a bare ASGI app"),
                       ("uvicorn_fastapi", "uvicorn + FastAPI, JSON body parsed")):  # fmt: skip
        ceiling = results["ceilings"][f"{key}_32_connections"]
        print(f"  {label:<36} {ceiling['rps']:>9,.0f} req/s, p99 {ceiling['p99_ms']:.2f} ms")
    print("\nheadline (1-row requests; ratios from this run)")
    for model, entry in results["headline"].items():
        print(f"  {model} at {entry['connections']} connections: ours {entry['ours_rps']:,.0f} "
              f"req/s, p99/p50 {entry['ours_p99_over_p50']:.1f}")  # fmt: skip
        for key, value in entry.items():
            if key.startswith("ours_over["):
                server = key[len("ours_over[") : -1]
                p99 = entry[f"p99_ms[{server}]"]
                print(f"    ours / {server}: {value:,.1f}x (its p99 {p99:,.1f} ms)")
        if "ours_rows_over_in_process" in entry:
            share, batch = entry["ours_rows_over_in_process"], entry["mean_batch_rows"]
            print(f"    ours / in-process fast path at its batch of {batch:.1f} rows: {share:.0%}")
            print(f"    uvicorn + FastAPI with no model / the same in-process rate: "
                  f"{entry['fastapi_floor_over_in_process']:.0%}; ours / that floor: "
                  f"{entry['ours_over_fastapi_floor']:.0%}")  # fmt: skip
