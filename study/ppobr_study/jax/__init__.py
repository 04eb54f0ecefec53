"""The JAX study: PPO vs PPO-BR as one jitted program per task, vmapped over controllers and
seeds, on gymnax and Brax tasks; ``ppobr compare``'s run folder and statistics.

    python -m benchmarks.jax_study --config benchmarks/jax_study/configs/cpu_small.toml --out runs/jax_study

See README.md here. Modules: config (the TOML config), envs (gymnax / Brax behind one
interface), controllers (the ppobr_study presets as ppobr_jax controllers), ppo (the jitted
trainer), study (programs, run folder, throughput), cli (the command).
"""
