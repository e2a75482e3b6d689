"""suite.py plots OUTDIR: redraws the PNGs from OUTDIR's CSV files."""
import json
import os

from .scaling import plot_scaling
from .seed import plots_seed


def cmd_plots(a):
    out = a.outdir
    if os.path.exists(os.path.join(out, "seed.json")):
        sj = json.load(open(os.path.join(out, "seed.json")))
        plots_seed(out, sj["settings"]["algos"], with_curve=bool(sj.get("curve")))
    sc = os.path.join(out, "scaling", "scaling.json")
    if os.path.exists(sc):
        m = json.load(open(sc))["machine"]
        plot_scaling(os.path.join(out, "scaling"), m["nproc"], m["cpu_model"])


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    pl = sub.add_parser("plots", help="redraw the PNGs from OUTDIR's CSV files")
    pl.add_argument("outdir")


def run(a):
    cmd_plots(a)
