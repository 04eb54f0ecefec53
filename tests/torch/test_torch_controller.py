"""EpsilonController: the core controllers behind a tensor-friendly, checkpointable wrapper."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch_helpers import batch

import ppobr_core
import ppobr_torch as pt

PER_STEP = [0.9, 1.1, 0.7, 1.3, 0.8]


def _numpy_api_mean(values) -> float:
    """The mean the NumPy API's controller takes of the same per-step values (its diagnostics)."""
    ref = ppobr_core.PPOBRController(window=4, entropy_ref=1.0)
    ref.update(np.asarray(values, dtype=np.float64))
    return ref.diagnostics["entropy"]


def _signals(n_iters=12, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for it in range(n_iters):
        ent = rng.random(256) * 1.1 * (1 - it / (2 * n_iters))
        rets = list(rng.normal(100 + 10 * it, 5, size=rng.integers(0, 4)))
        kl = float(abs(rng.normal(0.01, 0.01)))
        out.append((ent, rets, kl))
    return out


CONTROLLERS = {
    "ppobr": lambda: ppobr_core.PPOBRController(window=4, entropy_ref=math.log(3)),
    "ppobr-progress": lambda: ppobr_core.PPOBRController(window=6, psi_mode="progress"),
    "constant": lambda: ppobr_core.ConstantController(0.15),
    "linear": lambda: ppobr_core.LinearDecayController(0.3, 0.05, total_updates=8),
    "kl": lambda: ppobr_core.KLAdaptiveController(kl_target=0.01),
}


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_same_eps_sequence_as_the_core_for_tensors_and_floats(name):
    ref = CONTROLLERS[name]()
    wrapped = {
        "floats": pt.EpsilonController(CONTROLLERS[name]()),
        "0-d tensors": pt.EpsilonController(CONTROLLERS[name]()),
        "per-step tensors": pt.EpsilonController(CONTROLLERS[name]()),
    }
    for ent, rets, kl in _signals():
        mean = _numpy_api_mean(ent)
        want = ref.update(mean, rets, kl=kl)
        got = {
            "floats": wrapped["floats"].update(mean, rets, kl=kl),
            "0-d tensors": wrapped["0-d tensors"].update(
                torch.tensor(mean, dtype=torch.float64),
                torch.tensor(rets),
                kl=torch.tensor(kl, dtype=torch.float64),
            ),
            "per-step tensors": wrapped["per-step tensors"].update(
                torch.from_numpy(ent), np.array(rets), kl=torch.tensor([kl], dtype=torch.float64)
            ),
        }
        for how, eps in got.items():
            assert eps == want, how  # bit-identical
    for w in wrapped.values():
        assert w.epsilon == ref.epsilon
        assert w.diagnostics == ref.diagnostics
        assert w.name == ref.name


def test_controller_is_required_and_must_be_a_core_controller():
    with pytest.raises(TypeError) as e:
        pt.EpsilonController()
    assert str(e.value) == "controller: is required"
    for bad, name in ((None, "NoneType"), (0.2, "float"), ("ppobr", "str"), (object(), "object")):
        with pytest.raises(TypeError) as e:
            pt.EpsilonController(bad)
        assert str(e.value) == (
            "controller: expected a ppobr_core controller (e.g. ppobr_core.PPOBRController()), "
            f"got {name}"
        )


def test_checkpoint_round_trip_with_torch_save_weights_only():
    ctl = pt.EpsilonController(ppobr_core.PPOBRController(window=4, entropy_ref=1.2))
    sig = _signals(16, seed=3)
    for ent, rets, _ in sig[:8]:
        ctl.update(torch.from_numpy(ent), rets)
    buf = io.BytesIO()
    torch.save({"eps_controller": ctl.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["eps_controller"]
    restored = pt.EpsilonController(ppobr_core.PPOBRController())
    t = restored.epsilon_tensor()
    restored.load_state_dict(state)
    assert restored.epsilon == ctl.epsilon and t.item() == pytest.approx(ctl.epsilon)
    for ent, rets, _ in sig[8:]:
        assert restored.update(torch.from_numpy(ent), rets) == ctl.update(
            torch.from_numpy(ent), rets
        )
    with pytest.raises(ppobr_core.InvalidArgumentError):
        pt.EpsilonController(ppobr_core.ConstantController()).load_state_dict(state)


def test_epsilon_tensor_is_updated_in_place():
    ctl = pt.EpsilonController(ppobr_core.LinearDecayController(0.3, 0.1, total_updates=4))
    t32 = ctl.epsilon_tensor()
    t64 = ctl.epsilon_tensor(dtype=torch.float64)
    ptr = t32.data_ptr()
    assert ctl.epsilon_tensor() is t32
    for _ in range(5):
        eps = ctl.update(0.5)
        assert t32.data_ptr() == ptr
        assert t64.item() == eps and t32.item() == pytest.approx(eps)


def test_non_finite_entropy_leaves_eps_unchanged_and_accumulator_entropy():
    ctl = pt.EpsilonController(ppobr_core.PPOBRController(window=4, entropy_ref=1.0))
    e1 = ctl.update(torch.tensor(0.4))
    assert ctl.update(torch.tensor(float("nan")), [1.0, float("inf")]) == e1
    # the entropy a StatsAccumulator collected (the update epochs' minibatches) can feed it too
    lpn, lpo, adv, ent = batch(400, seed=2)
    acc = pt.StatsAccumulator()
    for i in range(4):
        s = slice(100 * i, 100 * i + 100)
        acc.add(pt.clipped_surrogate_loss(lpn[s], lpo[s], adv[s], 0.2, entropy=ent[s]))
    ref = ppobr_core.PPOBRController(window=4, entropy_ref=1.0)
    ref.update(0.4)
    ref.update(float("nan"), [1.0, float("inf")])
    assert ctl.update(acc) == pytest.approx(ref.update(ent.mean().item()), rel=1e-12)


@pytest.mark.parametrize(
    "as_input",
    [
        pytest.param(lambda v: v, id="list"),
        pytest.param(tuple, id="tuple"),
        pytest.param(lambda v: np.array(v, dtype=np.float32), id="float32 array"),
        pytest.param(lambda v: torch.tensor(v, dtype=torch.float64), id="float64 tensor"),
        pytest.param(lambda v: torch.tensor(v, dtype=torch.float32), id="float32 tensor"),
    ],
)
def test_per_step_entropies_are_reduced_to_their_float64_mean(as_input):
    # docs/SPEC.md §3.5: the arithmetic mean in float64 of the values as given, the same bits
    # as the NumPy API's controller fed the same values (2000 of them: the summation order
    # matters at that length)
    ctl = pt.EpsilonController(ppobr_core.PPOBRController(window=4, entropy_ref=1.2))
    ref = ppobr_core.PPOBRController(window=4, entropy_ref=1.2)
    rng = np.random.default_rng(7)
    for it in range(6):
        values = PER_STEP if it == 0 else list(rng.uniform(0.0, 1.5, size=2000) * (1 - 0.1 * it))
        given = as_input(values)
        assert ctl.update(given, [float(it)]) == ref.update(np.asarray(given), [float(it)])
        assert ctl.diagnostics["entropy"] == pytest.approx(float(np.mean(values)), rel=1e-6)
    assert ctl.diagnostics == ref.diagnostics


def test_the_mean_of_order_sensitive_values_is_the_numpy_apis():
    # a sum whose float64 result depends on the order of the additions: 1 + 1e-16 + ...
    values = [1.0] + [1e-16] * 1000
    for given in (values, torch.tensor(values, dtype=torch.float64)):
        ctl = pt.EpsilonController(ppobr_core.PPOBRController(window=4, entropy_ref=1.0))
        ctl.update(given)
        assert ctl.diagnostics["entropy"] == _numpy_api_mean(values)


@pytest.mark.parametrize(
    "empty", [[], (), np.zeros(0), torch.zeros(0), torch.zeros(0, dtype=torch.float32)]
)
def test_an_empty_entropy_array_is_an_error(empty):
    ctl = pt.EpsilonController(ppobr_core.PPOBRController())
    eps0 = ctl.epsilon
    with pytest.raises(ppobr_core.InvalidArgumentError) as e:
        ctl.update(empty, [1.0])
    assert e.value.argument == "entropy"
    assert str(e.value) == "entropy: empty array (pass a number or at least one per-step entropy)"
    assert ctl.epsilon == eps0
    assert ctl.state_dict() == ppobr_core.PPOBRController().state_dict()  # nothing was fed


def test_entropy_arrays_must_be_one_dimensional_and_real():
    ctl = pt.EpsilonController(ppobr_core.PPOBRController())
    for bad in (torch.ones(2, 3), np.ones((2, 3)), [[1.0, 2.0]]):
        with pytest.raises(ppobr_core.InvalidArgumentError) as e:
            ctl.update(bad)
        assert e.value.argument == "entropy"
    for bad in ("0.5", torch.ones(3, dtype=torch.bool), ["a", "b"], object()):
        with pytest.raises(TypeError, match="^entropy: "):
            ctl.update(bad)


def test_a_non_finite_mean_entropy_follows_the_nan_policy():
    ctl = pt.EpsilonController(ppobr_core.PPOBRController(window=4, entropy_ref=1.0))
    ref = ppobr_core.PPOBRController(window=4, entropy_ref=1.0)
    assert ctl.update([0.5, 0.6]) == ref.update(0.55)
    for bad in ([0.5, float("nan")], torch.tensor([float("inf"), 1.0]), np.array([-np.inf])):
        assert ctl.update(bad) == ref.update(np.asarray(bad, dtype=np.float64))
    assert ctl.diagnostics == ref.diagnostics  # the skipped updates are counted alike
