#!/usr/bin/env python3
"""1 process vs 2 processes on the graphs of bench/scale_out/ (torchrun's variables set here, one
LibTorch thread per process): wall time of the whole run (median of --repeats), speed-up, and rank
0's time in collectives (SIGMAFLOW_DIST_STATS). Checks that both runs wrote the same result files
(timing fields aside). Run from the project root on an otherwise idle machine:
    python3 bench/scale_out.py [graph names...] [--repeats 3]
"""
import argparse, json, os, pathlib, random, re, shutil, statistics, subprocess, sys, tempfile, time

GRAPHS = ["sweep200k", "estimate64", "estimate64_large", "optimiser_heun", "optimiser_dpmpp_2m", "sample_metrics"]


def strip_timings(v):
    if isinstance(v, dict):
        return {k: strip_timings(x) for k, x in v.items() if not re.search("seconds|elapsed", k)}
    if isinstance(v, list):
        return [strip_timings(x) for x in v]
    return v


def same_outputs(a, b):
    diff = []
    for f in sorted(a.iterdir()):
        g = b / f.name
        if not g.exists():
            diff.append(f.name + " (missing)")
        elif f.suffix == ".json":
            if strip_timings(json.loads(f.read_text())) != strip_timings(json.loads(g.read_text())):
                diff.append(f.name)
        elif f.suffix == ".npy" and f.read_bytes() != g.read_bytes():
            diff.append(f.name)
    return diff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graphs", nargs="*", default=GRAPHS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sigmaflow", default="build/bin/sigmaflow")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp())
    env = dict(os.environ, SIGMAFLOW_THREADS="1", SIGMAFLOW_CACHE_DIR=str(work / "cache"), SIGMAFLOW_DIST_STATS="1")
    port = 29700 + random.randrange(200)
    print("| graph | 1 process (s) | 2 processes (s) | speed-up | collectives, rank 0 |\n|---|---|---|---|---|")
    try:
        for g in args.graphs:
            graph = f"bench/scale_out/{g}.json"
            one, two, stats = [], [], ""
            for _ in range(args.repeats):
                shutil.rmtree(work / "cache", ignore_errors=True)
                t0 = time.monotonic()
                subprocess.run([args.sigmaflow, "run", graph, "--out", work / "one", "--overwrite"], env=env,
                               check=True, capture_output=True)
                one.append(time.monotonic() - t0)
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
                m = re.search(r"\[rank 0\] collectives: (.*)", outs[0])
                stats = m.group(1) if m else ""
            diff = same_outputs(work / "one", work / "two")
            t1, t2 = statistics.median(one), statistics.median(two)
            note = "" if not diff else " DIFFERENT: " + ", ".join(diff)
            print(f"| {g} | {t1:.2f} | {t2:.2f} | {t1 / t2:.2f}x | {stats}{note} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
