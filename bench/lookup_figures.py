"""The figures of bench/lookups.py from the bots' answers: percentiles per outcome, the
latency a hit adds to the baseline, the rates offered and achieved, and the tables printed.

An answer is a ``bench.lookup_bots.Result``: (kind, outcome, wall-clock start, ms, measured).
"""

import statistics
from collections import Counter, defaultdict


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def p50_p99(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values), percentile(values, 0.99)) if values else (0.0, 0.0)


def summary(name: str, results: list, made: int, refused: int, most: int) -> dict:
    """One client's measured answers by outcome, and its export requests at the fake Braze."""
    measured = [r for r in results if r[4]]
    lookups = [r for r in measured if r[0] != "baseline"]
    by_outcome: dict[str, list[float]] = defaultdict(list)
    for _, outcome, _, ms, _ in measured:
        by_outcome[outcome].append(ms)
    return {
        "client": name, "lookups": len(lookups), "requests_measured": len(measured),
        "outcomes": Counter(r[1] for r in measured),
        "latency": {o: p50_p99(v) for o, v in by_outcome.items()},
        "requests": made, "per_1000": made * 1000 / max(1, len(lookups)), "refused": refused,
        "most_in_60s": most,
    }  # fmt: skip


def added(results: list, rounds: int) -> dict:
    """Hits and baseline p50/p99 and their difference, over the whole run and per time slice
    (medians of the slices): both sides come from the same bots in the same seconds."""
    measured = [r for r in results if r[4]]
    first, last = min(r[2] for r in measured), max(r[2] for r in measured)
    width = (last - first) / rounds or 1.0
    slices = [([], []) for _ in range(rounds)]
    for _, outcome, started, ms, _ in measured:
        hits, base = slices[min(rounds - 1, int((started - first) / width))]
        if outcome == "hit":
            hits.append(ms)
        elif outcome == "baseline":
            base.append(ms)
    per_slice = [(p50_p99(h), p50_p99(b)) for h, b in slices if h and b]
    hit = p50_p99([r[3] for r in measured if r[1] == "hit"])
    base = p50_p99([r[3] for r in measured if r[1] == "baseline"])
    return {
        "hit": hit, "base": base, "added": (hit[0] - base[0], hit[1] - base[1]),
        "slices": len(per_slice),
        "slice_hit": tuple(statistics.median(s[0][i] for s in per_slice) for i in (0, 1)),
        "slice_base": tuple(statistics.median(s[1][i] for s in per_slice) for i in (0, 1)),
        "slice_added": tuple(statistics.median(s[0][i] - s[1][i] for s in per_slice)
                             for i in (0, 1)),
    }  # fmt: skip


def rates(results: list, started: float, ended: float, args) -> dict:
    """What the bots offered (their think time alone, as if every answer were instant) and
    what they made, per second, over the measured turns."""
    low, _, high = args.think_ms.partition("-")
    mean_think = (float(low) + float(high or low)) / 2000
    measured = [r for r in results if r[4]]
    span = max(r[2] + r[3] / 1000 for r in measured) - min(r[2] for r in measured)
    lookups = sum(1 for r in measured if r[0] != "baseline")
    return {
        "offered": args.bots / mean_think if mean_think else float("inf"),
        "achieved": len(measured) / span,
        "lookups": lookups / span,
        "share": lookups / len(measured),
        "seconds": ended - started,
    }


def table(rows: list[dict]) -> str:
    lines = ["| client | outcome | answers | p50 ms | p99 ms |", "|---|---|---:|---:|---:|"]
    for row in rows:
        for outcome, count in sorted(row["outcomes"].items()):
            p50, p99 = row["latency"][outcome]
            lines.append(f"| {row['client']} | {outcome} | {count:,} | {p50:.2f} | {p99:.2f} |")
    lines += ["", "| client | export requests | per 1,000 lookups | Braze 429s "
              "| most in any 60 s |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row['client']} | {row['requests']:,} | {row['per_1000']:.1f} | "
                     f"{row['refused']:,} | {row['most_in_60s']:,} |")  # fmt: skip
    return "\n".join(lines)


def added_table(ours: dict) -> str:
    a, one = ours["added"], ours["alone"]
    figures = [
        ("cache hits, whole request at the bot", a["hit"]),
        ("baseline: the same stack without the lookup (bare DRF view)", a["base"]),
        ("**added by the lookup: hit minus baseline**", a["added"]),
        (
            f"added, median of {a['slices']} time slices (hit {a['slice_hit'][1]:.2f} / baseline "
            f"{a['slice_base'][1]:.2f} at p99)",
            a["slice_added"],
        ),
        ("cache hits, server time from arrival (lookup log, whole ms)", ours["server_hit"]),
        ("one bot alone, no think: cache hits", one["hit"]),
        ("one bot alone: baseline", one["base"]),
        ("one bot alone: added", one["added"]),
        ("the lookup log's INSERT alone, committed (same database, same run)", ours["insert"]),
    ]
    lines = ["| figure | p50 ms | p99 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {p50:.2f} | {p99:.2f} |" for name, (p50, p99) in figures]
    hit, base = one["cpu"]["hit"], one["cpu"]["baseline"]
    cpu = (
        f"CPU per request, one bot alone, in ms: hit {hit['web']:.2f} gunicorn + "
        f"{hit['db']:.2f} PostgreSQL; baseline {base['web']:.2f} + {base['db']:.2f}."
    )
    lines += ["", cpu]
    return "\n".join(lines)


def rate_line(ours: dict) -> str:
    r, cpu = ours["rates"], ours["cpu_ms"]
    return (
        f"Offered by the bots' think time alone: {r['offered']:.0f} requests/s "
        f"({r['offered'] * r['share']:.0f} lookups/s); achieved "
        f"{r['achieved']:.0f} requests/s, of which lookups {r['lookups']:.0f}/s "
        f"({r['share']:.0%}), over {r['seconds']:.0f} s; CPU per request (warm-up turns "
        f"included): gunicorn {cpu['web']:.2f} ms, PostgreSQL {cpu['db']:.2f} ms; keep-alive "
        f"reconnects {ours['reconnects']}."
    )
