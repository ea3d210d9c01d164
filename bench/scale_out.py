#!/usr/bin/env python3
"""1 process vs 2 processes on the graphs of bench/scale_out/ (torchrun's variables set here, one
LibTorch thread per process): wall time of the whole run and of the slowest node (medians of
--repeats), speed-ups, and rank 0's time in collectives (SIGMAFLOW_DIST_STATS). Compares the
result files of both runs (timing fields and a report's per-process "timings" section aside):
"identical", or the largest relative difference of any number (float32 models: batch-dependent
kernels, docs/scale-out.md). Run from the project root on an otherwise idle machine:
    python3 bench/scale_out.py [graph names...] [--repeats 3]
"""
import argparse, array, ast, json, os, pathlib, random, re, shutil, statistics, subprocess, sys, tempfile, time

GRAPHS = ["sweep200k", "estimate64", "estimate64_large", "optimiser64_dpmpp_2m", "optimiser64_heun",
          "optimiser784_dpmpp_2m", "optimiser784_heun", "metrics784"]


def strip_timings(v):
    if isinstance(v, dict):
        return {k: strip_timings(x) for k, x in v.items() if not re.search("seconds|elapsed|timings", k)}
    if isinstance(v, list):
        return [strip_timings(x) for x in v]
    return v


def numbers(v):
    if isinstance(v, dict):
        for k in sorted(v):
            yield from numbers(v[k])
    elif isinstance(v, list):
        for x in v:
            yield from numbers(x)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        yield float(v)


def npy_values(path):
    """The numbers of a little-endian float32/float64 .npy file (what SaveLatent writes)."""
    data = path.read_bytes()
    header_len = int.from_bytes(data[8:10], "little")
    header = ast.literal_eval(data[10:10 + header_len].decode("latin1"))
    values = array.array({"<f4": "f", "<f8": "d"}[header["descr"]])
    values.frombytes(data[10 + header_len:])
    return list(values)


def compare_outputs(a, b):
    """"identical", or the largest relative difference between the runs' numbers."""
    worst, same = 0.0, True
    for f in sorted(a.iterdir()):
        g = b / f.name
        if not g.exists():
            return f"{f.name} missing"
        if f.suffix == ".json":
            x, y = strip_timings(json.loads(f.read_text())), strip_timings(json.loads(g.read_text()))
            if x == y:
                continue
            u, w = list(numbers(x)), list(numbers(y))
        elif f.suffix == ".npy":
            if f.read_bytes() == g.read_bytes():
                continue
            u, w = npy_values(f), npy_values(g)
        else:
            continue
        if len(u) != len(w):
            return f"{f.name} differs in size"
        same = False
        worst = max([worst] + [abs(p - q) / max(abs(p), 1e-300) for p, q in zip(u, w)])
    return "identical" if same else f"max rel. diff {worst:.1e}"


def slowest_node(log):
    times = [float(t) for t in re.findall(r"node \S+ \S+ done ([0-9.]+)s", log)]
    return max(times) if times else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graphs", nargs="*", default=GRAPHS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sigmaflow", default="build/bin/sigmaflow")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp())
    env = dict(os.environ, SIGMAFLOW_THREADS="1", SIGMAFLOW_CACHE_DIR=str(work / "cache"), SIGMAFLOW_DIST_STATS="1")
    port = 29700 + random.randrange(200)
    print("| graph | 1 process (s) | 2 processes (s) | speed-up | slowest node 1 / 2 (s) | node speed-up "
          "| collectives, rank 0 | results |\n|---|---|---|---|---|---|---|---|")
    try:
        for g in args.graphs:
            graph = f"bench/scale_out/{g}.json"
            one, two, node1, node2, stats = [], [], [], [], ""
            for _ in range(args.repeats):
                shutil.rmtree(work / "cache", ignore_errors=True)
                t0 = time.monotonic()
                r = subprocess.run([args.sigmaflow, "run", graph, "--out", work / "one", "--overwrite"], env=env,
                                   check=True, capture_output=True, text=True)
                one.append(time.monotonic() - t0)
                node1.append(slowest_node(r.stdout + r.stderr))
                shutil.rmtree(work / "cache", ignore_errors=True)
                port += 1
                ranks = [dict(env, RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
                         for r in (0, 1)]
                t0 = time.monotonic()
                procs = [subprocess.Popen([args.sigmaflow, "run", graph, "--out", work / "two", "--overwrite"],
                                          env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                         for e in ranks]
                outs = [p.communicate()[0] for p in procs]
                two.append(time.monotonic() - t0)
                if any(p.returncode for p in procs):
                    sys.exit(f"{g}: a rank failed:\n{outs[0]}\n{outs[1]}")
                node2.append(slowest_node(outs[0]))
                m = re.search(r"\[rank 0\] collectives: (.*)", outs[0])
                stats = m.group(1) if m else ""
            t1, t2 = statistics.median(one), statistics.median(two)
            n1, n2 = statistics.median(node1), statistics.median(node2)
            print(f"| {g} | {t1:.2f} | {t2:.2f} | {t1 / t2:.2f}x | {n1:.2f} / {n2:.2f} | {n1 / n2:.2f}x | {stats} "
                  f"| {compare_outputs(work / 'one', work / 'two')} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
