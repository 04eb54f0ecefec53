"""Run by test_jax_multidevice.py in a fresh process with 4 host CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=4): every device must compute the same epsilon
from different local data, under pmap and shard_map. Prints one JSON line of results."""

import json
import os
import sys

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters"))
import ppobr_jax as pj  # noqa: E402

N_DEV, N_UPD, BATCH, MAX_RET = 4, 25, 64, 3


def local_data(seed):
    rng = np.random.default_rng(seed)
    lpo = rng.uniform(-3, -0.1, size=(N_UPD, N_DEV, BATCH))
    lpn = lpo + rng.normal(0, 0.3, size=lpo.shape)
    adv = rng.normal(size=lpo.shape)
    ent = rng.uniform(0.1, 0.7, size=lpo.shape)
    rets = rng.normal(100, 30, size=(N_UPD, N_DEV, MAX_RET))
    rmask = rng.random((N_UPD, N_DEV, MAX_RET)) < 0.4
    rets[rng.random(rets.shape) < 0.05] = np.nan
    return lpn, lpo, adv, ent, rets, rmask


def make_step(ppobr_cfg, kl_cfg, axis):
    def step(states, inp):
        s_br, s_kl = states
        lpn, lpo, adv, ent, rets, rmask = inp
        loss, stats = pj.clipped_surrogate(lpn, lpo, adv, s_br.epsilon, entropy=ent, axis_name=axis)
        _, local = pj.clipped_surrogate(lpn, lpo, adv, s_br.epsilon, entropy=ent)
        eps_br, s_br = pj.update(
            ppobr_cfg, s_br, stats.pair("entropy"), rets, rmask, axis_name=axis
        )
        eps_kl, s_kl = pj.update(kl_cfg, s_kl, kl=stats.pair("kl_k3"), axis_name=axis)
        return (s_br, s_kl), (eps_br, eps_kl, stats.sums, loss, local.sums)

    return step


def main():
    assert jax.device_count() == N_DEV, jax.devices()
    ppobr_cfg = pj.ppobr_config(window=6, entropy_ref=0.8)
    kl_cfg = pj.kl_adaptive_config(kl_target=0.02)
    data = local_data(0)
    # [device, update, ...] for the mapped runs
    per_dev = [np.swapaxes(x, 0, 1) for x in data]
    init = (pj.init(ppobr_cfg), pj.init(kl_cfg))
    step = make_step(ppobr_cfg, kl_cfg, "d")

    def run(*xs):
        return jax.lax.scan(step, init, xs)[1]

    out = {}
    eps_br, eps_kl, sums, loss, local = jax.pmap(run, axis_name="d")(*per_dev)
    eps_br, eps_kl, sums = np.asarray(eps_br), np.asarray(eps_kl), np.asarray(sums)
    local = np.asarray(local)  # [device, update, 11]: each device's own sums
    out["pmap_same_eps_ppobr"] = all(
        eps_br[i].tobytes() == eps_br[0].tobytes() for i in range(N_DEV)
    )
    out["pmap_same_eps_kl"] = all(eps_kl[i].tobytes() == eps_kl[0].tobytes() for i in range(N_DEV))
    out["pmap_same_stats"] = all(sums[i].tobytes() == sums[0].tobytes() for i in range(N_DEV))
    out["local_losses_differ"] = len({np.asarray(loss)[i].tobytes() for i in range(N_DEV)}) == N_DEV
    out["eps_varies"] = len(set(eps_br[0].tolist())) > 3 and len(set(eps_kl[0].tolist())) > 1

    # the same sequence from one device fed with the global inputs: each device's own
    # (sum, count) added in device order, the returns concatenated in device order
    lpn, lpo, adv, ent, rets, rmask = data
    ordered = local[0].copy()
    for dev in range(1, N_DEV):
        ordered = ordered + local[dev]
    ordered[:, 2] = local[:, :, 2].min(0)
    ordered[:, 3] = local[:, :, 3].max(0)
    out["stats_are_ordered_sums_of_local"] = ordered.tobytes() == sums[0].tobytes()
    s_br, s_kl = init
    single_br, single_kl = [], []
    upd = jax.jit(lambda s, m, r, k: pj.update(ppobr_cfg, s, m, r, k))
    upd_kl = jax.jit(lambda s, m: pj.update(kl_cfg, s, kl=m))
    for t in range(N_UPD):
        e_sum = 0.0
        k_sum = 0.0
        for dev in range(N_DEV):
            e_sum = e_sum + float(local[dev, t, 0])
            k_sum = k_sum + float(local[dev, t, 10])
        count = float(N_DEV * BATCH)
        e, s_br = upd(s_br, pj.Mean(e_sum, count), rets[t].reshape(-1), rmask[t].reshape(-1))
        single_br.append(float(e))
        e, s_kl = upd_kl(s_kl, pj.Mean(k_sum, count))
        single_kl.append(float(e))
    out["pmap_equals_single_device_ppobr"] = np.asarray(single_br).tobytes() == eps_br[0].tobytes()
    out["pmap_equals_single_device_kl"] = np.asarray(single_kl).tobytes() == eps_kl[0].tobytes()
    if not out["pmap_equals_single_device_ppobr"]:
        out["max_rel_diff_ppobr"] = float(
            np.max(np.abs(np.asarray(single_br) - eps_br[0]) / eps_br[0])
        )

    # shard_map over a 4-device mesh: the same epsilons
    try:
        from jax.sharding import Mesh
        from jax.sharding import PartitionSpec as P

        shard_map = getattr(jax, "shard_map", None)
        if shard_map is None:
            from jax.experimental.shard_map import shard_map
        mesh = Mesh(np.array(jax.devices()), ("d",))

        def run_sm(*xs):
            xs = tuple(x[0] for x in xs)  # the local block: [1, ...] -> [...]
            eb, ek, _, _, _ = jax.lax.scan(step, init, xs)[1]
            return eb[None], ek[None]

        kwargs = dict(mesh=mesh, in_specs=(P("d"),) * 6, out_specs=(P("d"), P("d")))
        try:
            f = shard_map(run_sm, check_vma=False, **kwargs)
        except TypeError:
            f = shard_map(run_sm, check_rep=False, **kwargs)
        eb, ek = jax.jit(f)(*per_dev)
        eb, ek = np.asarray(eb), np.asarray(ek)
        out["shard_map_same_eps"] = all(eb[i].tobytes() == eb[0].tobytes() for i in range(N_DEV))
        out["shard_map_equals_pmap"] = (
            eb[0].tobytes() == eps_br[0].tobytes() and ek[0].tobytes() == eps_kl[0].tobytes()
        )
    except Exception as e:  # pragma: no cover - reported, the test decides
        out["shard_map_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
