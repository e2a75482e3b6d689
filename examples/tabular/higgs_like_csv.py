#!/usr/bin/env python3
"""Writes a Higgs-like CSV: the columns and value ranges of the ATLAS Higgs
challenge's training.csv (Dist-Keras' flagship example), synthetic rows.

The real set is not shipped (it needs a CERN Open Data download); this one has
its shape: EventId, 30 real-valued features of very different scales and signs
(-999.0 where a jet is missing, as in the real file), a Weight column and the
label s/b, with a non-linear rule and label noise so that no model is perfect.

    examples/tabular/higgs_like_csv.py --rows 100000 --seed 1 train.csv
    examples/tabular/higgs_like_csv.py --rows 20000 --seed 2 test.csv
    examples/tabular/higgs_like_csv.py --rows 20000 --seed 2 --no-label new.csv
"""
import argparse

import numpy as np

FEATURES = [
    "DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltaeta_jet_jet",
    "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_tau_lep", "DER_pt_tot", "DER_sum_pt",
    "DER_pt_ratio_lep_tau", "DER_met_phi_centrality", "DER_lep_eta_centrality", "PRI_tau_pt", "PRI_tau_eta",
    "PRI_tau_phi", "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_met", "PRI_met_phi", "PRI_met_sumet",
    "PRI_jet_num", "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi", "PRI_jet_subleading_pt",
    "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", "PRI_jet_all_pt",
]


def rows(n, rng):
    f = {}
    f["DER_mass_MMC"] = rng.gamma(9.0, 13.0, n)
    f["DER_mass_transverse_met_lep"] = rng.exponential(45.0, n)
    f["DER_mass_vis"] = rng.gamma(12.0, 6.5, n)
    f["DER_pt_h"] = rng.exponential(55.0, n)
    f["DER_deltar_tau_lep"] = rng.uniform(0.3, 5.0, n)
    f["DER_pt_tot"] = rng.exponential(18.0, n)
    f["DER_pt_ratio_lep_tau"] = rng.lognormal(0.1, 0.5, n)
    f["DER_met_phi_centrality"] = rng.uniform(-1.414, 1.414, n)
    for side in ("tau", "lep"):
        f[f"PRI_{side}_pt"] = 20 + rng.exponential(25.0, n)
        f[f"PRI_{side}_eta"] = rng.uniform(-2.5, 2.5, n)
        f[f"PRI_{side}_phi"] = rng.uniform(-np.pi, np.pi, n)
    f["PRI_met"] = rng.exponential(40.0, n)
    f["PRI_met_phi"] = rng.uniform(-np.pi, np.pi, n)
    f["PRI_met_sumet"] = rng.gamma(4.0, 55.0, n)
    jets = rng.choice(4, n, p=[0.4, 0.31, 0.2, 0.09])
    f["PRI_jet_num"] = jets.astype(float)
    f["PRI_jet_leading_pt"] = np.where(jets >= 1, 30 + rng.exponential(50.0, n), -999.0)
    f["PRI_jet_leading_eta"] = np.where(jets >= 1, rng.uniform(-4.5, 4.5, n), -999.0)
    f["PRI_jet_leading_phi"] = np.where(jets >= 1, rng.uniform(-np.pi, np.pi, n), -999.0)
    two = jets >= 2
    f["PRI_jet_subleading_pt"] = np.where(two, 30 + rng.exponential(30.0, n), -999.0)
    f["PRI_jet_subleading_eta"] = np.where(two, rng.uniform(-4.5, 4.5, n), -999.0)
    f["PRI_jet_subleading_phi"] = np.where(two, rng.uniform(-np.pi, np.pi, n), -999.0)
    f["DER_deltaeta_jet_jet"] = np.where(two, np.abs(f["PRI_jet_leading_eta"] - f["PRI_jet_subleading_eta"]), -999.0)
    f["DER_mass_jet_jet"] = np.where(two, rng.gamma(3.0, 120.0, n), -999.0)
    f["DER_prodeta_jet_jet"] = np.where(two, f["PRI_jet_leading_eta"] * f["PRI_jet_subleading_eta"], -999.0)
    f["DER_lep_eta_centrality"] = np.where(two, rng.uniform(0, 1, n), -999.0)
    f["DER_sum_pt"] = f["PRI_tau_pt"] + f["PRI_lep_pt"] + np.where(jets >= 1, f["PRI_jet_leading_pt"], 0)
    f["PRI_jet_all_pt"] = np.where(jets >= 1, f["PRI_jet_leading_pt"] * rng.uniform(1.0, 1.6, n), 0.0)
    # Signal: a mass peak near 125, a transverse mass below ~40, tau and lepton
    # close together, VBF-like jets; non-linear, noisy.
    score = (-((f["DER_mass_MMC"] - 125) / 22) ** 2 + 1.2 - f["DER_mass_transverse_met_lep"] / 35
             + 0.6 * (f["DER_deltar_tau_lep"] < 2.5) + 0.4 * f["DER_met_phi_centrality"]
             + 0.5 * np.where(two, (f["DER_deltaeta_jet_jet"] > 3.5), 0) + rng.normal(0, 0.8, n))
    signal = score > 0
    weight = np.where(signal, rng.uniform(0.0015, 0.005, n), rng.uniform(0.2, 5.0, n))
    return f, signal, weight


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-label", action="store_true", help="leave out Weight and Label (data to predict)")
    a = p.parse_args()
    if a.rows < 1:
        p.error("--rows must be >= 1")
    rng = np.random.default_rng(a.seed)
    f, signal, weight = rows(a.rows, rng)
    columns = ["EventId"] + FEATURES + ([] if a.no_label else ["Weight", "Label"])
    with open(a.path, "w") as out:
        out.write(",".join(columns) + "\n")
        for i in range(a.rows):
            cells = [str(100000 + i)] + ["%.6g" % f[name][i] for name in FEATURES]
            if not a.no_label:
                cells += ["%.6g" % weight[i], "s" if signal[i] else "b"]
            out.write(",".join(cells) + "\n")


if __name__ == "__main__":
    main()
