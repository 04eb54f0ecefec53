"""The clip-range controllers against the pure-Python references of tests/reference.py.

PPO-BR is compared bit for bit in float64 with the oracle's RefPPOBR (it uses fdlibm_tanh, the
portable tanh of cpp/src/portable_tanh.hpp, and the order of operations documented in
controllers.hpp / .cpp); this file computes no expected epsilon itself.
"""

import copy
import math
import pickle

import numpy as np
import pytest
from assertions import dict_bits, float_bits
from reference import RefKLAdaptive, RefLinearDecay, RefPPOBR

import ppobr_core as pc

PPOBR_DIAG_KEYS = [
    "epsilon",
    "phi",
    "psi",
    "entropy",
    "z",
    "entropy_ref",
    "num_returns",
    "updates",
    "rejected_entropy",
    "dropped_returns",
]


def same_bits(a: float, b: float) -> bool:
    return float_bits(a) == float_bits(b)


def random_observations(rng, n, *, nonfinite=True, trend="mixed", entropy_scale=2.0):
    """(entropy, returns) pairs: entropies around entropy_scale with occasional NaN/Inf,
    0..4 returns per update following a trend, with occasional NaN/Inf returns."""
    obs = []
    level = 0.0
    for t in range(n):
        if nonfinite and rng.random() < 0.08:
            H = [math.nan, math.inf, -math.inf, None][rng.integers(0, 4)]
        else:
            H = float(rng.uniform(0.05, 1.5) * entropy_scale)
        k = int(rng.integers(0, 5))
        rets = []
        for _ in range(k):
            if trend == "rising" or (trend == "mixed" and (t // 20) % 2 == 0):
                level += rng.uniform(0, 2)
            x = level + float(rng.normal(0, 1))
            if nonfinite and rng.random() < 0.05:
                x = [math.nan, math.inf, -math.inf][rng.integers(0, 3)]
            rets.append(x)
        obs.append((H, rets))
    return obs


def assert_same_as_reference(ctrl, ref, what=""):
    got = ctrl.diagnostics
    want = ref.diagnostics()
    assert list(got) == list(want), what
    for k in want:
        assert same_bits(got[k], want[k]), (
            f"{what} diagnostics[{k}]: got {got[k]!r}, want {want[k]!r}"
        )
    assert same_bits(ctrl.epsilon, ref.epsilon), what


@pytest.mark.parametrize("entropy_ref", [None, 2.5])
@pytest.mark.parametrize("psi_mode", ["plateau", "progress"])
@pytest.mark.parametrize("window", [2, 3, 10, 11])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppobr_matches_reference_bitwise(seed, window, psi_mode, entropy_ref):
    rng = np.random.default_rng([seed, window, psi_mode == "plateau", entropy_ref is None])
    cfg = dict(
        eps0=0.2,
        lambda1=0.5,
        lambda2=0.3,
        window=window,
        psi_mode=psi_mode,
        entropy_ref=entropy_ref,
    )
    ctrl = pc.PPOBRController(**cfg)
    ref = RefPPOBR(**cfg)
    assert_same_as_reference(ctrl, ref, "init")
    for t, (H, rets) in enumerate(random_observations(rng, 150)):
        if H is not None and math.isfinite(H) and ref.entropy_ref is None and not H > 0:
            continue
        eps = ctrl.update(H, rets)
        want = ref.update(H, rets)
        assert same_bits(eps, want), f"step {t}: got {eps!r}, want {want!r}"
        assert_same_as_reference(ctrl, ref, f"step {t}")
    assert ref.updates > 100 and ref.count == window


@pytest.mark.parametrize(
    "cfg",
    [
        dict(eps0=0.1, lambda1=1.0, lambda2=0.9, window=5),
        dict(eps0=0.3, lambda1=0.0, lambda2=0.5, window=4, psi_mode="progress"),
        dict(eps0=0.2, lambda1=0.7, lambda2=0.0, window=6),
        dict(eps0=0.2, lambda1=2.0, lambda2=3.0, window=7, eps_min=0.01, eps_max=0.35),
        dict(
            eps0=0.25,
            lambda1=0.5,
            lambda2=0.3,
            window=8,
            eps_min=0.2,
            eps_max=0.26,
            psi_mode="progress",
        ),
        dict(eps0=0.2, window=10, entropy_ref=-0.5, entropy_floor=-4.0),
        dict(eps0=0.2, window=3, entropy_floor=-10.0),
    ],
)
def test_ppobr_configs_match_reference_bitwise(cfg, rng):
    ctrl = pc.PPOBRController(**cfg)
    ref = RefPPOBR(**cfg)
    scale = 1.0 if cfg.get("entropy_floor", 0.0) == 0.0 else -1.0
    for t, (H, rets) in enumerate(random_observations(rng, 120, entropy_scale=scale * 2.0)):
        eps = ctrl.update(H, rets)
        assert same_bits(eps, ref.update(H, rets)), f"step {t}"
        assert_same_as_reference(ctrl, ref, f"step {t}")


def test_ppobr_defaults_and_config():
    c = pc.PPOBRController()
    assert c.name == "ppobr"
    assert isinstance(c, pc.Controller)
    assert c.epsilon == 0.2
    cfg = c.config
    assert list(cfg)[:9] == [
        "eps0",
        "lambda1",
        "lambda2",
        "window",
        "psi_mode",
        "entropy_ref",
        "entropy_floor",
        "eps_min",
        "eps_max",
    ]
    assert cfg["eps0"] == 0.2 and cfg["lambda1"] == 0.5 and cfg["lambda2"] == 0.3
    assert cfg["window"] == 10 and cfg["psi_mode"] == 0 and cfg["entropy_floor"] == 0
    assert (
        math.isnan(cfg["entropy_ref"]) and math.isnan(cfg["eps_min"]) and math.isnan(cfg["eps_max"])
    )
    assert cfg["eps_min_effective"] == 0.2 * (1 - 0.3)
    assert cfg["eps_max_effective"] == 0.2 * (1 + 0.5)
    d = c.diagnostics
    assert list(d) == PPOBR_DIAG_KEYS
    assert d["epsilon"] == 0.2 and d["updates"] == 0 and d["num_returns"] == 0
    assert math.isnan(d["entropy_ref"])
    for k in ("phi", "psi", "z", "entropy", "rejected_entropy", "dropped_returns"):
        assert d[k] == 0, k
    c2 = pc.PPOBRController(
        eps0=0.3,
        lambda1=0.1,
        lambda2=0.2,
        window=4,
        psi_mode="progress",
        entropy_ref=1.5,
        entropy_floor=0.5,
        eps_min=0.1,
        eps_max=0.4,
    )
    cfg2 = c2.config
    assert (
        cfg2["eps0"],
        cfg2["lambda1"],
        cfg2["lambda2"],
        cfg2["window"],
        cfg2["psi_mode"],
        cfg2["entropy_ref"],
        cfg2["entropy_floor"],
        cfg2["eps_min"],
        cfg2["eps_max"],
    ) == (0.3, 0.1, 0.2, 4, 1, 1.5, 0.5, 0.1, 0.4)
    assert cfg2["eps_min_effective"] == 0.1 and cfg2["eps_max_effective"] == 0.4
    assert c2.diagnostics["entropy_ref"] == 1.5
    assert "ppobr" in repr(c2) and "epsilon" in repr(c2)


def run_beside_reference(cfg, observations):
    """A PPOBRController and the oracle's RefPPOBR fed the same (entropy, returns): every
    diagnostic must be bit-identical after each update. Returns the controller."""
    ctrl, ref = pc.PPOBRController(**cfg), RefPPOBR(**cfg)
    for t, (H, rets) in enumerate(observations):
        eps = ctrl.update(H, rets)
        assert same_bits(eps, ref.update(H, rets)), f"update {t}"
        assert_same_as_reference(ctrl, ref, f"update {t}")
    return ctrl


def test_ppobr_warmup_has_no_contraction():
    """Until the window holds k returns psi = z = 0: epsilon depends on the entropy only."""
    c = pc.PPOBRController(window=5, entropy_ref=2.0)
    entropy_only = pc.PPOBRController(window=5, entropy_ref=2.0)
    for i, H in enumerate([2.0, 1.0, 0.5, 3.0]):
        eps = c.update(H, [float(i)])
        d = c.diagnostics
        assert d["psi"] == 0 and d["z"] == 0 and d["num_returns"] == i + 1
        assert d["phi"] == min(max(H / 2.0, 0.0), 1.0)
        assert same_bits(eps, entropy_only.update(H))
    run_beside_reference(
        dict(window=5, entropy_ref=2.0),
        [(H, [float(i)]) for i, H in enumerate([2.0, 1.0, 0.5, 3.0, 1.0])],
    )
    c.update(1.0, [4.0])  # the window is full: contraction starts
    assert c.diagnostics["num_returns"] == 5 and c.diagnostics["z"] != 0


def test_ppobr_hand_computed_window2():
    # window 2, returns [1, 3]: means 1 and 3, mean 2, std 1, z = 2 / (1 + 1e-8 (1 + 2)), psi =
    # 1 - tanh z (decimal values from 40-digit arithmetic; the bits are the oracle's)
    c = run_beside_reference(dict(window=2, entropy_ref=1.0), [(0.5, [1.0, 3.0])])
    d = c.diagnostics
    assert d["z"] == pytest.approx(1.9999999400000018, rel=1e-15)
    assert d["psi"] == pytest.approx(0.035972424163232725, rel=1e-14)
    assert d["phi"] == 0.5
    # progress mode: psi = clip(z, 0, 1) = 1 for rising returns, 0 for falling ones
    p = run_beside_reference(
        dict(window=2, entropy_ref=1.0, psi_mode="progress"), [(0.5, [1.0, 3.0])]
    )
    assert p.diagnostics["psi"] == 1.0
    assert p.epsilon < pc.PPOBRController(window=2, entropy_ref=1.0).update(0.5)  # contracted
    run_beside_reference(
        dict(window=2, entropy_ref=1.0, psi_mode="progress"), [(0.5, [1.0, 3.0]), (0.5, [0.0])]
    )
    p.update(0.5, [0.0])  # window [3, 0]: falling
    assert p.diagnostics["z"] < 0 and p.diagnostics["psi"] == 0.0


def test_ppobr_odd_window_middle_return_is_ignored():
    """For odd k the middle return belongs to neither half (it only enters mean and std): then
    reversing the window negates z whatever the middle return is (were it in a half, the
    numerators (m + 5) / 2 - 1 and (m + 1) / 2 - 5 would differ in size unless m = 3)."""
    for xs in ([1.0, 2.0, 5.0], [1.0, 3.0, 5.0], [1.0, 4.5, 5.0]):
        fwd = run_beside_reference(dict(window=3, entropy_ref=1.0), [(0.5, xs)])
        rev = run_beside_reference(dict(window=3, entropy_ref=1.0), [(0.5, xs[::-1])])
        assert fwd.diagnostics["z"] > 0
        assert rev.diagnostics["z"] == pytest.approx(
            -fwd.diagnostics["z"], rel=1e-14
        )  # up to the std's rounding


def test_ppobr_constant_returns_plateau():
    """Returns that stopped moving: z = 0, psi = 1 in plateau mode (maximal contraction)."""
    c = run_beside_reference(dict(window=4, entropy_ref=1.0), [(1.0, [7.0] * 4)])
    d = c.diagnostics
    assert d["z"] == 0.0 and d["psi"] == 1.0 and d["phi"] == 1.0
    assert c.epsilon == pytest.approx(
        0.2304637662382306, rel=1e-15
    )  # 0.2 (1 + 0.5 tanh 1 - 0.3 tanh 1)


def test_ppobr_entropy_ref_first_observed():
    c = pc.PPOBRController(window=3)
    c.update(math.nan, [1.0])  # rejected: neither the ref nor the returns are taken
    assert math.isnan(c.diagnostics["entropy_ref"])
    assert c.diagnostics["num_returns"] == 0 and c.diagnostics["rejected_entropy"] == 1
    c.update(1.7, [1.0])
    d = c.diagnostics
    assert d["entropy_ref"] == 1.7 and d["phi"] == 1.0 and d["num_returns"] == 1
    c.update(0.85, [])
    assert c.diagnostics["entropy_ref"] == 1.7 and c.diagnostics["phi"] == 0.5
    c.update(3.4, None)  # above the reference: phi saturates at 1
    assert c.diagnostics["phi"] == 1.0
    c.update(-1.0)  # below the floor: phi = 0
    assert c.diagnostics["phi"] == 0.0
    assert c.diagnostics["num_returns"] == 1


def test_ppobr_entropy_ref_given_is_used_from_the_start():
    c = pc.PPOBRController(entropy_ref=math.log(4))
    c.update(math.log(2))
    assert c.diagnostics["phi"] == pytest.approx(0.5, rel=1e-15)
    assert c.diagnostics["entropy_ref"] == math.log(4)


def test_ppobr_first_entropy_below_floor_is_an_error():
    c = pc.PPOBRController(window=2)
    before = c.state_dict()
    with pytest.raises(pc.InvalidArgumentError) as e:
        c.update(-0.3, [1.0, 2.0])
    assert e.value.argument == "entropy_ref"
    assert "entropy_ref" in str(e.value)
    assert c.state_dict() == before
    c.update(0.3, [1.0])
    assert c.diagnostics["entropy_ref"] == 0.3 and c.diagnostics["num_returns"] == 1
    # a floor below the (negative) Gaussian entropies works
    g = pc.PPOBRController(window=2, entropy_floor=-5.0)
    g.update(-0.3, [1.0, 2.0])
    assert g.diagnostics["entropy_ref"] == -0.3 and g.diagnostics["phi"] == 1.0


def test_ppobr_nonfinite_returns_dropped_and_counted():
    c = pc.PPOBRController(window=3, entropy_ref=1.0)
    ref = RefPPOBR(window=3, entropy_ref=1.0)
    seq = [[1.0, math.nan, 2.0], [math.inf], [-math.inf, 3.0], [], [4.0, 5.0, math.nan, 6.0]]
    for rets in seq:
        assert same_bits(c.update(0.5, rets), ref.update(0.5, rets))
        assert_same_as_reference(c, ref)
    d = c.diagnostics
    assert d["dropped_returns"] == 4 and d["num_returns"] == 3 and d["updates"] == 5


def test_ppobr_rejected_entropy_keeps_everything():
    c = pc.PPOBRController(window=3)
    c.update(1.0, [1.0, 2.0, 4.0])
    before = c.diagnostics
    for H in (math.nan, math.inf, -math.inf, None):
        eps = c.update(H, [100.0, math.nan])
        assert eps == before["epsilon"]
    after = c.diagnostics
    assert after["rejected_entropy"] == 4
    assert after["dropped_returns"] == 0  # the returns of a rejected update are not looked at
    for k in before:
        if k != "rejected_entropy":
            assert same_bits(after[k], before[k]), k


@pytest.mark.parametrize(
    "returns",
    [
        [1.0, 2.0],
        (1.0, 2.0),
        np.array([1.0, 2.0]),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1, 2]),
        np.array([[1.0], [2.0]]),
        np.float64(1.0),
        1.0,
    ],
)
def test_ppobr_return_containers(returns):
    c = pc.PPOBRController(window=2, entropy_ref=1.0)
    c.update(np.float32(0.5), returns)
    flat = list(np.asarray(returns, dtype=np.float64).reshape(-1))
    ref = RefPPOBR(window=2, entropy_ref=1.0)
    ref.update(0.5, flat)
    assert_same_as_reference(c, ref)


def test_ppobr_lambdas_zero_is_plain_ppo(rng):
    for eps0 in (0.2, 0.1, 0.3, 1 / 3, 0.123456789):
        c = pc.PPOBRController(eps0=eps0, lambda1=0.0, lambda2=0.0, window=2)
        assert same_bits(c.epsilon, eps0)
        for H, rets in random_observations(rng, 50):
            if H is not None and math.isfinite(H) and c.diagnostics["updates"] == 0 and H <= 0:
                continue
            assert same_bits(c.update(H, rets), eps0)


def test_ppobr_update_keyword_arguments():
    c = pc.PPOBRController(window=2, entropy_ref=1.0)
    c.update(entropy=0.5, episode_returns=[1.0, 2.0])
    assert c.diagnostics["num_returns"] == 2
    c.update(0.5, [3.0], kl=0.01)  # kl is ignored by PPO-BR
    assert c.diagnostics["updates"] == 2


# ---------------------------------------------------------------------------------------------
# Baselines


def test_constant_controller():
    c = pc.ConstantController(0.15)
    assert c.name == "constant" and c.epsilon == 0.15
    assert c.config == {"eps": 0.15}
    assert list(c.diagnostics) == ["epsilon", "updates"]
    for obs in [(1.0, [1.0]), (math.nan, None), (None, [math.inf]), (2.0, [])]:
        assert c.update(*obs) == 0.15
    assert c.update(kl=5.0) == 0.15
    assert c.diagnostics == {"epsilon": 0.15, "updates": 5.0}
    assert pc.ConstantController().epsilon == 0.2


@pytest.mark.parametrize(
    "start,end,total",
    [
        (0.2, 0.0, 1),
        (0.2, 0.0, 10),
        (0.3, 0.05, 7),
        (0.1, 0.4, 3),
        (0.2, 0.2, 5),
        (0.25, 0.1, 1000),
    ],
)
def test_linear_decay_matches_reference(start, end, total):
    c = pc.LinearDecayController(start, end, total_updates=total)
    ref = RefLinearDecay(start, end, total)
    assert c.name == "linear_decay"
    assert c.config == {"eps_start": start, "eps_end": end, "total_updates": float(total)}
    assert c.epsilon == start
    seen = []
    for t in range(total + 5):
        eps = c.update(1.0, [1.0])
        assert same_bits(eps, ref.update()), f"t={t}"
        seen.append(eps)
        assert c.diagnostics == {"epsilon": eps, "updates": float(t + 1)}
    assert seen[0] == start  # t = 0
    assert seen[total] == pytest.approx(end, rel=1e-15, abs=1e-17)  # t = total_updates
    assert all(x == seen[total] for x in seen[total:])  # constant beyond total_updates
    # monotone between the endpoints
    diffs = np.diff(seen[: total + 1])
    assert np.all(diffs <= 0) if end <= start else np.all(diffs >= 0)


def test_linear_decay_midpoint():
    c = pc.LinearDecayController(0.2, 0.0, total_updates=4)
    assert [c.update() for _ in range(6)] == pytest.approx(
        [0.2, 0.15, 0.1, 0.05, 0.0, 0.0], abs=1e-16
    )


def test_kl_adaptive_up_down_hold():
    c = pc.KLAdaptiveController(
        eps0=0.2, kl_target=0.01, tolerance=1.5, rate=2.0, eps_min=0.02, eps_max=0.5
    )
    assert c.name == "kl_adaptive"
    assert c.config == {
        "eps0": 0.2,
        "kl_target": 0.01,
        "tolerance": 1.5,
        "rate": 2.0,
        "eps_min": 0.02,
        "eps_max": 0.5,
    }
    assert c.epsilon == 0.2
    assert c.update(kl=0.02) == 0.1  # above 0.015: shrink
    assert c.update(kl=0.01) == 0.1  # inside (0.00667, 0.015): hold
    assert c.update(kl=0.015) == 0.1  # on the upper threshold: hold (strict >)
    assert c.update(kl=0.001) == 0.2  # below: grow
    assert c.update(kl=0.0) == 0.4
    assert c.update(kl=0.0) == 0.5  # clipped at eps_max
    assert c.update(kl=0.0) == 0.5
    for _ in range(6):
        c.update(kl=1.0)
    assert c.epsilon == 0.02  # clipped at eps_min
    d = c.diagnostics
    assert list(d) == ["epsilon", "updates", "kl", "rejected_kl"]
    assert d["epsilon"] == 0.02 and d["updates"] == 13 and d["kl"] == 1.0 and d["rejected_kl"] == 0


def test_kl_adaptive_matches_reference(rng):
    cfg = dict(eps0=0.2, kl_target=0.02, tolerance=1.3, rate=1.7, eps_min=0.03, eps_max=0.45)
    c = pc.KLAdaptiveController(**cfg)
    ref = RefKLAdaptive(**cfg)
    for t in range(300):
        kl = float(np.exp(rng.normal(np.log(0.02), 1.0)))
        if rng.random() < 0.05:
            kl = [math.nan, math.inf, -math.inf][rng.integers(0, 3)]
        assert same_bits(c.update(1.0, [1.0], kl=kl), ref.update(kl)), t
        assert dict_bits(c.diagnostics) == dict_bits(ref.diagnostics())


def test_kl_adaptive_nonfinite_kl_is_counted():
    c = pc.KLAdaptiveController()
    c.update(kl=0.05)
    before = c.diagnostics
    assert c.update(kl=math.nan) == before["epsilon"]
    assert c.update(kl=math.inf) == before["epsilon"]
    after = c.diagnostics
    assert after["rejected_kl"] == 2
    assert after["epsilon"] == before["epsilon"] and after["updates"] == before["updates"]
    assert after["kl"] == before["kl"]


# ---------------------------------------------------------------------------------------------
# Serialization, copies


def make_controllers():
    return [
        pc.PPOBRController(window=5, psi_mode="progress", entropy_floor=-1.0, eps_max=0.28),
        pc.PPOBRController(),
        pc.ConstantController(0.1),
        pc.LinearDecayController(0.3, 0.05, total_updates=17),
        pc.KLAdaptiveController(rate=1.3),
    ]


def drive(ctrl, rng, n):
    out = []
    for H, rets in random_observations(rng, n):
        if H is not None and math.isfinite(H):
            H = abs(H) + 0.01
        kl = float(rng.uniform(0, 0.03))
        out.append(float_bits(ctrl.update(H, rets, kl=kl)))
        out.append(dict_bits(ctrl.diagnostics))
    return out


@pytest.mark.parametrize("idx", range(5))
def test_state_dict_round_trip(idx):
    ctrl = make_controllers()[idx]
    drive(ctrl, np.random.default_rng(idx), 23)
    sd = ctrl.state_dict()
    assert set(sd) == {"controller", "state"}
    assert sd["controller"] == ctrl.name and isinstance(sd["state"], bytes)
    # the same state twice gives the same bytes
    assert ctrl.state_dict() == sd
    # load into a default-configured instance of the same class: config and state come back
    fresh = (
        type(ctrl)()
        if not isinstance(ctrl, pc.LinearDecayController)
        else type(ctrl)(total_updates=1)
    )
    fresh.load_state_dict(sd)
    assert dict_bits(fresh.config) == dict_bits(ctrl.config)
    assert dict_bits(fresh.diagnostics) == dict_bits(ctrl.diagnostics)
    assert fresh.state_dict() == sd
    from_bytes = copy.deepcopy(fresh)
    from_bytes.load_state_dict(sd["state"])  # the bare bytes are accepted as well
    loaded = pc.load_controller(sd)
    assert type(loaded) is type(ctrl)
    loaded_b = pc.load_controller(sd["state"])
    assert type(loaded_b) is type(ctrl)
    expected = drive(ctrl, np.random.default_rng(99), 30)
    for other in (fresh, from_bytes, loaded, loaded_b):
        assert drive(other, np.random.default_rng(99), 30) == expected


@pytest.mark.parametrize("idx", range(5))
def test_pickle_and_copy(idx):
    ctrl = make_controllers()[idx]
    drive(ctrl, np.random.default_rng(idx), 17)
    clones = [
        pickle.loads(pickle.dumps(ctrl, protocol=p)) for p in range(2, pickle.HIGHEST_PROTOCOL + 1)
    ]
    clones += [copy.copy(ctrl), copy.deepcopy(ctrl)]
    for c in clones:
        assert type(c) is type(ctrl)
        assert c is not ctrl
        assert c.state_dict() == ctrl.state_dict()
    # copies are independent: advancing a copy leaves the original alone
    before = ctrl.state_dict()
    drive(clones[-1], np.random.default_rng(5), 5)
    drive(clones[-2], np.random.default_rng(5), 5)
    assert ctrl.state_dict() == before
    expected = drive(ctrl, np.random.default_rng(7), 20)
    for c in clones[:-2]:
        assert drive(c, np.random.default_rng(7), 20) == expected


def test_loaded_ppobr_keeps_first_observed_entropy_ref():
    c = pc.PPOBRController(window=3)
    c.update(1.3, [1.0, 2.0])
    restored = pc.load_controller(c.state_dict())
    assert restored.diagnostics["entropy_ref"] == 1.3
    assert math.isnan(restored.config["entropy_ref"])
    restored.update(0.65, [3.0])
    assert restored.diagnostics["phi"] == 0.5


def test_controller_base_is_not_constructible():
    with pytest.raises(TypeError):
        pc.Controller()


def test_update_does_not_modify_the_returns_array():
    rets = np.array([1.0, math.nan, 3.0, math.inf, 2.0])
    snap = rets.copy()
    c = pc.PPOBRController(window=2)
    c.update(1.0, rets)
    c.update(1.0, rets[::2])
    assert np.array_equal(rets, snap, equal_nan=True)
    f32 = rets.astype(np.float32)
    c.update(1.0, f32)
    assert np.array_equal(f32, snap.astype(np.float32), equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Per-step entropies


def entropy_mean(steps):
    """The mean every binding uses: numpy's float64 sum, divided by the count."""
    a = np.asarray(steps, dtype=np.float64)
    return float(np.add.reduce(a)) / a.size


@pytest.mark.parametrize("idx", range(5))
def test_update_with_per_step_entropies_equals_their_mean(idx, rng):
    """update(entropy=<1-D array, list or tuple>) is update(entropy=<its float64 mean>), for
    every controller and container, float32 steps included."""
    a, b = make_controllers()[idx], make_controllers()[idx]
    for t in range(12):
        steps = rng.uniform(0.1, 2.0, size=int(rng.integers(1, 9)))
        if t % 3 == 1:
            steps = steps.astype(np.float32)
        container = [np.asarray, list, tuple][t % 3](steps)
        returns = list(rng.normal(size=int(rng.integers(0, 3))))
        ea = a.update(container, returns, kl=0.01 * t)
        eb = b.update(entropy_mean(steps), returns, kl=0.01 * t)
        assert same_bits(ea, eb)
        assert a.diagnostics == b.diagnostics
    assert a.state_dict() == b.state_dict()


def test_per_step_entropies_single_and_integer_values():
    a, b = pc.PPOBRController(window=2), pc.PPOBRController(window=2)
    assert same_bits(a.update(np.array([1.25]), [1.0]), b.update(1.25, [1.0]))
    assert same_bits(a.update([1, 2], [2.0]), b.update(1.5, [2.0]))
    assert same_bits(a.update(np.array(0.75), [3.0]), b.update(0.75, [3.0]))  # 0-d: a number
    assert a.diagnostics == b.diagnostics


def test_per_step_entropies_with_a_non_finite_mean_are_rejected_and_counted():
    """A NaN/Inf among the steps makes the mean non-finite: the existing NaN policy applies
    (the update is skipped and counted), not an error."""
    c = pc.PPOBRController(window=2)
    c.update([1.0, 0.5], [1.0])
    sd = c.diagnostics
    for steps in ([1.0, math.nan], np.array([math.inf, 1.0]), [-math.inf, math.inf]):
        assert c.update(steps, [5.0]) == sd["epsilon"]
    d = c.diagnostics
    assert d["rejected_entropy"] == sd["rejected_entropy"] + 3
    assert d["num_returns"] == sd["num_returns"] and d["updates"] == sd["updates"]
