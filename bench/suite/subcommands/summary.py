"""suite.py summary OUTDIR: joins the parts' Markdown reports into OUTDIR/summary.md."""
import json
import os

from .common import (machine_info, machine_line)


def cmd_summary(a):
    out = a.outdir
    m = machine_info()
    parts = ["# asyncps benchmark suite: summary", "",
             f"`bench/suite/run.sh {a.command_outdir or out}{' --quick' if a.quick else ''}`", "",
             machine_line(m), ""]
    for title, path in [("PS throughput (bench/ps)", "ps/ps.md"),
                        ("Worker compute (bench/compute)", "compute/compute.md"),
                        (None, "seed.md"), (None, "memory.md"), (None, "compression.md"),
                        (None, "scaling/scaling.md")]:
        p = os.path.join(out, path)
        if not os.path.exists(p):
            parts += [f"({path}: not made in this run)", ""]
            continue
        if title:
            parts += [f"## {title}", ""]
        txt = open(p).read().rstrip() + "\n"
        # demote the sub-reports' own top-level headings
        txt = "\n".join(("#" + line if line.startswith("#") else line) for line in txt.splitlines()) if title else txt
        parts += [txt, ""]
    pngs = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
                  if f.endswith(".png"))
    parts += ["## Plots", ""] + [f"- `{p}`" for p in pngs] + [""]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(parts))
    with open(os.path.join(out, "machine.json"), "w") as f:
        json.dump(m, f, indent=1)
    print("\n".join(parts))


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    u = sub.add_parser("summary")
    u.add_argument("outdir")
    u.add_argument("--quick", action="store_true")
    u.add_argument("--command-outdir")


def run(a):
    cmd_summary(a)
