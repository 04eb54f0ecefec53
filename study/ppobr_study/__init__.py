"""ppobr_study: `ppobr compare` — PPO vs PPO-BR (and other clip-range controllers) on gymnasium tasks.

- :mod:`ppobr_study.train`: one readable CleanRL-style PPO trainer taking any controller;
- :mod:`ppobr_study.controllers`: the named controller presets (ppo, ppobr, ablations, controls);
- :mod:`ppobr_study.protocol`: the statistics of docs/PROTOCOL.md (scipy);
- :mod:`ppobr_study.runfolder`: the resumable run folder (CSV, JSON, atomic writes);
- :mod:`ppobr_study.plots`: learning curves and ε over training (matplotlib);
- :mod:`ppobr_study.cli`: the ``ppobr`` console command.

Needs the ``compare`` extra: gymnasium[classic-control], scipy, matplotlib, tqdm, torch.
Importing this package imports nothing heavy; the submodules import what they need.
"""

__all__ = ["cli", "controllers", "plots", "protocol", "runfolder", "train"]
