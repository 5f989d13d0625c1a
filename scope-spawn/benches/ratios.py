#!/usr/bin/env python3
"""Turns the output of one or more `cargo bench --workspace` runs into the
ratio tables of BENCHMARKS.md.

    cargo bench --workspace 2>&1 | tee run1.log     # repeat for run2, run3
    python3 scope-spawn/benches/ratios.py run1.log run2.log run3.log

For every figure it takes the divan *median* of each run, computes the ratio
within that run (a benchmark is only ever divided by a baseline measured in
the same run), and prints the median of those per-run ratios, with the range
over runs. Absolute figures are the median over runs of the per-run medians.
Standard library only.

    python3 scope-spawn/benches/ratios.py --stat fastest run1.log ...

uses divan's *fastest* sample of each benchmark instead of its median: a
cross-check on a noisy machine (interference only ever adds time), most
useful for the short samples of case 4.
"""

import re
import statistics
import sys

TASKS = 100_000  # case 1 and 2 tasks per iteration
TREE_TASKS = 100_000  # case 3: 1k child scopes x 100 tasks
CALLS = 10_000  # case 3: Scope::current() calls per iteration
SNAPSHOT_TASKS = 10_000
BATCH = 1_000  # case 4: requests per iteration

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
TIME = re.compile(r"([0-9.]+)\s*(ps|ns|µs|us|ms|s)\b")


# Which of divan's columns a run's figure is taken from: 0 fastest, 2 median.
STAT_COLUMN = {"fastest": 0, "median": 2}
stat_column = STAT_COLUMN["median"]


def stat_name():
    return next(k for k, v in STAT_COLUMN.items() if v == stat_column)


def parse(path):
    """The divan medians of a run, as {'runtime/spawn_await/scope_spawn/batch':
    ns, ...}, and the memory table, as {('task' | 'scope', name): bytes}."""
    medians, memory = {}, {}
    stack, root, section = [], None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^(\w+)\s+fastest\s+│", line)
            if m:
                root, stack = m.group(1), []
                continue
            if root and ("├─ " in line or "╰─ " in line):
                # The tree prefix is made of 3-character cells.
                first = line.index("─ ") - 1
                depth = first // 3
                name = line[first + 3 :].split()[0]
                stack = stack[:depth] + [name]
                cols = line[first + 3 + len(name) :].split("│")
                times = [TIME.search(c) for c in cols[:3]]
                if len(times) == 3 and all(times):
                    t = times[stat_column]
                    medians["/".join([root] + stack)] = float(t.group(1)) * UNITS[t.group(2)]
                continue
            if not line.strip():
                root = None if not line.startswith("│") else root
                section = None
                continue
            if line.startswith("live task"):
                section = "task"
                continue
            if line.startswith("live scope"):
                section = "scope"
                continue
            m = re.match(r"^(.+?)\s{2,}(-?[0-9.]+)\s", line)
            if section and m:
                memory[(section, m.group(1).strip())] = float(m.group(2))
    return medians, memory


def med(values):
    return statistics.median(values)


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns" if ns >= 100 else f"{ns:.1f} ns"


def fmt_ratio(values):
    m = med(values)
    if len(values) == 1:
        return f"{m:.2f}×"
    return f"{m:.2f}× ({min(values):.2f}–{max(values):.2f})"


class Runs:
    def __init__(self, paths):
        parsed = [parse(p) for p in paths]
        self.runs = [p[0] for p in parsed]
        self.memory = [p[1] for p in parsed]

    def has(self, key):
        return all(key in r for r in self.runs)

    def abs(self, key):
        return med([r[key] for r in self.runs])

    def ratio(self, num, den):
        return [r[num] / r[den] for r in self.runs]

    def ratios_of(self, f):
        return [f(r) for r in self.runs]


def verdict(values, limit, below=True):
    m = med(values)
    ok = m <= limit if below else m >= limit
    return "met" if ok else "**missed**"


def case1(runs):
    out = []
    variants = [
        ("tokio_spawn", "`tokio::spawn`"),
        ("scope_spawn", "`Scope::spawn`"),
        ("macro_explicit_scope", "`scope_spawn!(&scope, _)`"),
        ("macro_current_scope", "`scope_spawn!(_)` in `scope.in_scope(..)`"),
        ("task_tracker_token", "`TaskTracker::spawn` + token clone + `run_until_cancelled_owned`"),
        ("join_set", "`JoinSet::spawn` + `join_next`"),
        ("scope_spawn_0_1", "scope-spawn 0.1 `Scope::spawn`"),
    ]
    for mode in ("batch", "serial"):
        key = lambda v: f"runtime/spawn_await/{v}/{mode}"
        if not runs.has(key("tokio_spawn")):
            continue
        if out:
            out.append("")
        out.append(f"**{mode}** — " + (
            "spawn all 100k, then await every handle in order"
            if mode == "batch" else "spawn one, await it, then the next (100k times)"))
        out.append("")
        out.append(f"| variant | {stat_name()} / 100k | per task | × tokio::spawn | × TaskTracker+token | × 0.1 |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for v, label in variants:
            if not runs.has(key(v)):
                continue
            a = runs.abs(key(v))
            row = [label, fmt_time(a), fmt_time(a / TASKS),
                   fmt_ratio(runs.ratio(key(v), key("tokio_spawn"))),
                   fmt_ratio(runs.ratio(key(v), key("task_tracker_token"))),
                   fmt_ratio(runs.ratio(key(v), key("scope_spawn_0_1")))]
            out.append("| " + " | ".join(row) + " |")
    k = lambda v: f"runtime/spawn_await/{v}/batch"
    if runs.has(k("scope_spawn")):
        r1 = runs.ratio(k("scope_spawn"), k("tokio_spawn"))
        r2 = runs.ratio(k("scope_spawn"), k("scope_spawn_0_1"))
        r3 = runs.ratio(k("scope_spawn"), k("task_tracker_token"))
        out.append("")
        out.append("| target (batch) | figure | verdict |")
        out.append("| --- | ---: | --- |")
        out.append(f"| `Scope::spawn` ≤ 1.10× `tokio::spawn` | {fmt_ratio(r1)} | {verdict(r1, 1.10)} |")
        out.append(f"| `Scope::spawn` faster than 0.1 (< 1.00×) | {fmt_ratio(r2)} | {verdict(r2, 1.0)} |")
        out.append(f"| `Scope::spawn` faster than TaskTracker+token (< 1.00×) | {fmt_ratio(r3)} | {verdict(r3, 1.0)} |")
    return out


def case2(runs):
    out = []
    key = lambda v: f"runtime/cancel_pending/{v}"
    base = key("join_set_abort_all")
    if not runs.has(base):
        return out
    variants = [
        ("scope_cancel_join", "scope: `guard.cancel()` + `guard.join()`"),
        ("scope_drop_probe", "scope: drop the guard + wait for the body drop-guards"),
        ("join_set_abort_all", "`JoinSet::abort_all` + drain `join_next`"),
        ("task_tracker_token", "shared token `cancel()` + `TaskTracker::close` + `wait`"),
        ("scope_spawn_0_1_drop_probe", "scope-spawn 0.1: drop the scope + wait for the body drop-guards"),
    ]
    out.append(f"| variant | {stat_name()} / 100k | per task | × JoinSet | × token+tracker | × 0.1 (drop+probe) |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for v, label in variants:
        if not runs.has(key(v)):
            continue
        a = runs.abs(key(v))
        out.append("| " + " | ".join([
            label, fmt_time(a), fmt_time(a / TASKS),
            fmt_ratio(runs.ratio(key(v), base)),
            fmt_ratio(runs.ratio(key(v), key("task_tracker_token"))),
            fmt_ratio(runs.ratio(key(v), key("scope_spawn_0_1_drop_probe")))]) + " |")
    r = runs.ratio(key("scope_cancel_join"), base)
    out.append("")
    out.append("| target | figure | verdict |")
    out.append("| --- | ---: | --- |")
    out.append(f"| scope cancel+join ≤ 1.00× JoinSet abort_all+drain | {fmt_ratio(r)} | {verdict(r, 1.0)} |")
    return out


def case3(runs):
    out = []
    key = lambda v: f"runtime/tree/{v}"
    if not runs.has(key("cancel_root_scope")):
        return out
    out.append(f"| what | {stat_name()} | per unit | ratio |")
    out.append("| --- | ---: | ---: | ---: |")
    a = runs.abs(key("cancel_root_scope"))
    b = runs.abs(key("cancel_root_token_trackers"))
    out.append(f"| cancel a root of 1k child scopes × 100 tasks, until `join` returns | {fmt_time(a)} | {fmt_time(a / TREE_TASKS)} / task | "
               f"{fmt_ratio(runs.ratio(key('cancel_root_scope'), key('cancel_root_token_trackers')))} token tree |")
    out.append(f"| baseline: root token → 1k `child_token()` + `TaskTracker` each, cancel + close/wait all | {fmt_time(b)} | {fmt_time(b / TREE_TASKS)} / task | 1.00× |")
    if runs.has("runtime/cancel_pending/scope_cancel_join"):
        out.append(f"| (flat: the same 100k tasks in one scope, case 2) | {fmt_time(runs.abs('runtime/cancel_pending/scope_cancel_join'))} | | "
                   f"tree {fmt_ratio(runs.ratio(key('cancel_root_scope'), 'runtime/cancel_pending/scope_cancel_join'))} flat |")
    c = runs.abs(key("current_in_task"))
    t = runs.abs(key("task_local_arc_in_task"))
    out.append(f"| `Scope::current()` inside a task, 10k calls | {fmt_time(c)} | {fmt_time(c / CALLS)} / call | "
               f"{fmt_ratio(runs.ratio(key('current_in_task'), key('task_local_arc_in_task')))} bare task-local |")
    out.append(f"| baseline: `task_local!` `try_with(Arc::clone)`, 10k calls | {fmt_time(t)} | {fmt_time(t / CALLS)} / call | 1.00× |")
    d0 = runs.abs(key("context_get_depth_0"))
    d5 = runs.abs(key("context_get_depth_5"))
    out.append(f"| `get::<T>()` five parents deep | {fmt_time(d5)} | {fmt_time((d5 - d0) / 5)} / level | "
               f"{fmt_ratio(runs.ratio(key('context_get_depth_5'), key('context_get_depth_0')))} depth 0 |")
    out.append(f"| `get::<T>()` on the scope holding it (depth 0) | {fmt_time(d0)} | | 1.00× |")
    s = runs.abs(key("snapshot_10k_tasks"))
    out.append(f"| `snapshot()` of a scope with 10k live tasks | {fmt_time(s)} | {fmt_time(s / SNAPSHOT_TASKS)} / task | |")
    return out


def case4(runs):
    out = []
    key = lambda v: f"requests/{v}"
    bare = key("request/bare")
    if not runs.has(bare):
        return out
    rows = [
        ("request/bare", "bare router, hello handler"),
        ("request/timeout_layer", "+ tower-http `TimeoutLayer` (30 s)"),
        ("request/scope_layer_scoped", "+ `ScopeSpawnLayer::new().parent(&root)`, `#[scoped]` handler"),
        ("request/scope_layer_only", "+ `ScopeSpawnLayer`, plain handler"),
        ("request/scoped_only", "`#[scoped]` handler, no layer"),
        ("spawn_in_handler/tokio_spawn_bare", "bare router; handler awaits one `tokio::spawn`"),
        ("spawn_in_handler/tokio_spawn_layer_scoped", "layer + `#[scoped]`; handler awaits one `tokio::spawn`"),
        ("spawn_in_handler/scope_spawn_layer_scoped", "layer + `#[scoped]`; handler awaits one `scope_spawn!`"),
    ]
    out.append(f"| variant | {stat_name()} / 1k requests | per request | × bare |")
    out.append("| --- | ---: | ---: | ---: |")
    for v, label in rows:
        if not runs.has(key(v)):
            continue
        a = runs.abs(key(v))
        out.append(f"| {label} | {fmt_time(a)} | {fmt_time(a / BATCH)} | {fmt_ratio(runs.ratio(key(v), bare))} |")

    def over(num, den_over):
        return runs.ratios_of(lambda r: (r[key(num)] - r[bare]) / (r[key(den_over)] - r[bare]))

    overheads = over("request/scope_layer_scoped", "request/timeout_layer")
    whole = runs.ratio(key("request/scope_layer_scoped"), bare)
    spawn = runs.ratios_of(lambda r: (r[key("spawn_in_handler/scope_spawn_layer_scoped")] - r[key("request/scope_layer_scoped")])
                           / (r[key("spawn_in_handler/tokio_spawn_bare")] - r[bare]))
    same_base = runs.ratio(key("spawn_in_handler/scope_spawn_layer_scoped"), key("spawn_in_handler/tokio_spawn_layer_scoped"))
    per = lambda f: fmt_time(med(runs.ratios_of(f)) / BATCH)
    out.append("")
    out.append("Overheads per request (median over runs of the per-run differences): "
               f"layer+`#[scoped]` {per(lambda r: r[key('request/scope_layer_scoped')] - r[bare])}, "
               f"`TimeoutLayer` {per(lambda r: r[key('request/timeout_layer')] - r[bare])}, "
               f"one awaited `scope_spawn!` {per(lambda r: r[key('spawn_in_handler/scope_spawn_layer_scoped')] - r[key('request/scope_layer_scoped')])}, "
               f"one awaited `tokio::spawn` {per(lambda r: r[key('spawn_in_handler/tokio_spawn_bare')] - r[bare])}.")
    out.append("")
    out.append("| target | figure | verdict |")
    out.append("| --- | ---: | --- |")
    out.append(f"| layer+`#[scoped]` overhead ÷ `TimeoutLayer` overhead (each over bare) ≤ 1.0 | {fmt_ratio(overheads)} | {verdict(overheads, 1.0)} |")
    out.append(f"| whole request with layer+`#[scoped]` ≤ 1.25× bare | {fmt_ratio(whole)} | {verdict(whole, 1.25)} |")
    out.append(f"| one awaited `scope_spawn!` ≤ 1.10× one awaited `tokio::spawn` (each as the increment over its own router without the spawn) | {fmt_ratio(spawn)} | {verdict(spawn, 1.10)} |")
    out.append(f"| (same, whole requests on the same layered router: `scope_spawn!` ÷ `tokio::spawn` handler) | {fmt_ratio(same_base)} | {verdict(same_base, 1.10)} |")
    return out


def case6(runs):
    out = []
    mems = [m for m in runs.memory if m]
    if not mems:
        return out
    bare = ("task", "tokio::spawn (bare task)")
    value = lambda k: med([m[k] for m in mems if k in m])
    out.append("| what (N = 10k live at once) | bytes each | over a bare tokio task |")
    out.append("| --- | ---: | ---: |")
    for k in mems[0]:
        over = f"{value(k) - value(bare):+.0f} B" if k[0] == "task" else ""
        out.append(f"| {k[1]} | {value(k):.0f} B | {over} |")
    task = value(("task", "Scope::spawn")) - value(bare)
    req = value(("scope", "request scope (named child of a root)"))
    out.append("")
    out.append("| target | figure | verdict |")
    out.append("| --- | ---: | --- |")
    out.append(f"| ≤ 128 B per scoped task over a bare tokio task | {task:+.0f} B | {'met' if task <= 128 else '**missed**'} |")
    out.append(f"| ≤ 512 B per request scope | {req:.0f} B | {'met' if req <= 512 else '**missed**'} |")
    return out


def main():
    global stat_column
    args = sys.argv[1:]
    stat = "median"
    if len(args) >= 2 and args[0] == "--stat" and args[1] in STAT_COLUMN:
        stat, args = args[1], args[2:]
    paths = args
    if not paths:
        sys.exit(__doc__)
    stat_column = STAT_COLUMN[stat]
    runs = Runs(paths)
    note = "" if stat == "median" else f", divan's {stat} sample instead of its median"
    print(f"<!-- generated by scope-spawn/benches/ratios.py from {len(paths)} run(s){note} -->")
    for title, f in [("Case 1 — spawn and await", case1), ("Case 2 — cancel pending tasks", case2),
                     ("Case 3 — trees and introspection", case3), ("Case 4 — per-request overhead", case4),
                     ("Case 6 — memory", case6)]:
        lines = f(runs)
        if lines:
            print(f"\n### {title}\n")
            print("\n".join(lines))


if __name__ == "__main__":
    main()
