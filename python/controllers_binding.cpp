// The clip-range controllers and load_controller. Every constructor and method binds its
// (*args, **kwargs) itself (binding_arguments.hpp), so a missing or wrong argument is a
// TypeError naming it, never pybind11's "incompatible constructor arguments".

#include "controllers_binding.hpp"

#include <pybind11/numpy.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "binding_arguments.hpp"
#include "binding_arrays.hpp"
#include "binding_errors.hpp"
#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"

namespace ppobr_binding {

namespace {

using ppobr::InvalidArgument;

py::object wrap_controller(std::unique_ptr<ppobr::Controller> c);

double update_controller(ppobr::Controller& c, const py::object& entropy,
                         const py::object& episode_returns, const py::object& kl) {
  ppobr::Observation obs;
  obs.entropy = entropy_observation(entropy);
  obs.kl = opt_real(kl, "kl");
  py::array_t<double> rets;
  if (episode_returns && !episode_returns.is_none()) {
    py::array r = as_array(episode_returns);
    char k = r.dtype().kind();
    if (k != 'f' && k != 'i' && k != 'u')
      type_error("episode_returns", "expected real numbers, got " + dtype_str(r));
    rets = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(
        r.attr("reshape")(-1));
    obs.episode_returns = rets.data();
    obs.num_episode_returns = static_cast<std::size_t>(rets.size());
  }
  return c.update(obs);
}

py::dict items_dict(const ppobr::Diagnostics& items) {
  py::dict d;
  for (const auto& kv : items) d[py::str(kv.first)] = kv.second;
  return d;
}

py::bytes state_bytes(const ppobr::Controller& c) {
  auto b = c.serialize();
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

std::unique_ptr<ppobr::Controller> controller_from_state(const py::object& state) {
  py::object blob = state;
  if (py::isinstance<py::dict>(state)) {
    py::dict d = py::reinterpret_borrow<py::dict>(state);
    if (!d.contains("state"))
      throw InvalidArgument("state_dict",
                            "missing key 'state' (expected the dict from state_dict())");
    blob = d["state"];
  }
  if (!py::isinstance<py::bytes>(blob))
    type_error("state_dict",
               "expected the dict from state_dict() or its 'state' bytes, got " + type_name(blob));
  std::string s = blob.cast<std::string>();
  return ppobr::deserialize_controller(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

template <class C>
void load_into(C& self, const py::object& state) {
  auto restored = controller_from_state(state);
  auto* same = dynamic_cast<C*>(restored.get());
  if (same == nullptr)
    throw InvalidArgument("state_dict", std::string("holds a '") + restored->name() +
                                            "' controller, not '" + self.name() + "'");
  self = *same;
}

// Methods every controller class shares.
template <class C, class PyClass>
void common_controller_methods(PyClass& cls) {
  cls.def(
         "update",
         [](C& self, const py::args& args, const py::kwargs& kwargs) {
           static const Signature sig{"update", {"entropy", "episode_returns", "kl"}, 2, {}};
           const auto a = bind_arguments(sig, args, kwargs);
           return update_controller(self, a[0], a[1], a[2]);
         },
         "update(entropy=None, episode_returns=None, *, kl=None)\n\n"
         "Takes the last rollout's policy entropy (a number, or per-step entropies whose mean is\n"
         "used) and the returns of the episodes that finished in it (oldest first; None or [] if\n"
         "none did), and for KL-adaptive the measured KL of the last update. Returns the clip\n"
         "range for the next update epochs.")
      .def_property_readonly("epsilon", &C::epsilon, "The current clip range.")
      .def_property_readonly("name", [](const C& self) { return std::string(self.name()); })
      .def_property_readonly(
          "diagnostics", [](const C& self) { return items_dict(self.diagnostics()); },
          "The last update's signals as a dict (epsilon first).")
      .def_property_readonly(
          "config", [](const C& self) { return items_dict(self.config_items()); },
          "The validated config as a dict.")
      .def(
          "state_dict",
          [](const C& self) {
            py::dict d;
            d["controller"] = std::string(self.name());
            d["state"] = state_bytes(self);
            return d;
          },
          "Config and state as {'controller': name, 'state': bytes} (versioned, checksummed).")
      .def(
          "load_state_dict",
          [](C& self, const py::args& args, const py::kwargs& kwargs) {
            static const Signature sig{"load_state_dict", {"state_dict"}, 1, {"state_dict"}};
            load_into(self, bind_arguments(sig, args, kwargs)[0]);
          },
          "load_state_dict(state_dict)\n\nRestores config and state from state_dict(); the "
          "controller then continues "
          "bit-identically.")
      .def("__copy__", [](const C& self) { return C(self); })
      .def(
          "__deepcopy__", [](const C& self, const py::dict&) { return C(self); }, py::arg("memo"))
      .def(py::pickle([](const C& self) { return state_bytes(self); },
                      [](const py::bytes& b) {
                        auto r = controller_from_state(b);
                        auto* same = dynamic_cast<C*>(r.get());
                        if (same == nullptr)
                          throw InvalidArgument("state", "wrong controller type");
                        return C(*same);
                      }))
      .def("__repr__", [](const C& self) {
        std::string s = std::string(self.name()) + "(";
        bool first = true;
        for (const auto& kv : self.config_items()) {
          s += (first ? "" : ", ") + kv.first + "=" +
               py::repr(py::float_(kv.second)).cast<std::string>();
          first = false;
        }
        return s + ", epsilon=" + py::repr(py::float_(self.epsilon())).cast<std::string>() + ")";
      });
}

ppobr::PPOBRConfig ppobr_config_from(const py::args& args, const py::kwargs& kwargs) {
  static const Signature sig{"PPOBRController",
                             {"eps0", "lambda1", "lambda2", "window", "psi_mode", "entropy_ref",
                              "entropy_floor", "eps_min", "eps_max"},
                             9,
                             {}};
  const auto a = bind_arguments(sig, args, kwargs);
  ppobr::PPOBRConfig c;
  c.eps0 = real_or(a[0], "eps0", c.eps0);
  c.lambda1 = real_or(a[1], "lambda1", c.lambda1);
  c.lambda2 = real_or(a[2], "lambda2", c.lambda2);
  c.window = int_or(a[3], "window", c.window);
  c.psi_mode = ppobr::parse_psi_mode(string_or(a[4], "psi_mode", "plateau").c_str());
  c.entropy_ref = opt_real(a[5], "entropy_ref");
  c.entropy_floor = real_or(a[6], "entropy_floor", c.entropy_floor);
  c.eps_min = opt_real(a[7], "eps_min");
  c.eps_max = opt_real(a[8], "eps_max");
  return c;
}

ppobr::ConstantConfig constant_config_from(const py::args& args, const py::kwargs& kwargs) {
  static const Signature sig{"ConstantController", {"eps"}, 1, {}};
  const auto a = bind_arguments(sig, args, kwargs);
  ppobr::ConstantConfig c;
  c.eps = real_or(a[0], "eps", c.eps);
  return c;
}

ppobr::LinearDecayConfig linear_decay_config_from(const py::args& args, const py::kwargs& kwargs) {
  static const Signature sig{
      "LinearDecayController", {"eps_start", "eps_end", "total_updates"}, 2, {"total_updates"}};
  const auto a = bind_arguments(sig, args, kwargs);
  ppobr::LinearDecayConfig c;
  c.eps_start = real_or(a[0], "eps_start", 0.2);
  c.eps_end = real_or(a[1], "eps_end", 0.0);
  c.total_updates = int_or(a[2], "total_updates", 1);
  return c;
}

ppobr::KLAdaptiveConfig kl_adaptive_config_from(const py::args& args, const py::kwargs& kwargs) {
  static const Signature sig{"KLAdaptiveController",
                             {"eps0", "kl_target", "tolerance", "rate", "eps_min", "eps_max"},
                             6,
                             {}};
  const auto a = bind_arguments(sig, args, kwargs);
  ppobr::KLAdaptiveConfig c;
  c.eps0 = real_or(a[0], "eps0", c.eps0);
  c.kl_target = real_or(a[1], "kl_target", c.kl_target);
  c.tolerance = real_or(a[2], "tolerance", c.tolerance);
  c.rate = real_or(a[3], "rate", c.rate);
  c.eps_min = real_or(a[4], "eps_min", c.eps_min);
  c.eps_max = real_or(a[5], "eps_max", c.eps_max);
  return c;
}

py::object wrap_controller(std::unique_ptr<ppobr::Controller> c) {
  if (auto* p = dynamic_cast<ppobr::PPOBRController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::ConstantController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::LinearDecayController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::KLAdaptiveController*>(c.get())) return py::cast(*p);
  throw InvalidArgument("state_dict", "unknown controller type");
}

}  // namespace

void bind_controllers(py::module_& m) {
  py::class_<ppobr::Controller>(m, "Controller",
                                "Base of the clip-range controllers (not constructible).");

  py::class_<ppobr::PPOBRController, ppobr::Controller> ppobr_cls(m, "PPOBRController", R"doc(
PPOBRController(eps0=0.2, lambda1=0.5, lambda2=0.3, window=10, psi_mode="plateau",
                entropy_ref=None, entropy_floor=0.0, eps_min=None, eps_max=None)

PPO-BR's adaptive clip range (Rahman, arXiv 2505.17714), with docs/SPEC.md's default signals:

    eps_t = clip(eps0 (1 + lambda1 tanh(phi(H_t)) - lambda2 tanh(psi(z_t))), eps_min, eps_max)
    phi(H) = clip((H - entropy_floor) / (entropy_ref - entropy_floor), 0, 1)
    z = (mean(newer k/2 returns) - mean(older k/2)) / (std(last k returns) + 1e-8 (1 + |mean|))
    psi = 1 - tanh(|z|)  ("plateau": contract when returns stop moving)  or  clip(z, 0, 1)  ("progress")

psi is 0 until `window` (k) episode returns have been seen. entropy_ref defaults to the first
entropy observed (for n discrete actions, log(n) is the natural choice). Default bounds are the
paper's Lemma 1: eps_min = eps0 (1 - lambda2), eps_max = eps0 (1 + lambda1). lambda1 = lambda2 = 0
is plain PPO (eps0 exactly). Non-finite returns are dropped; an update with a non-finite entropy
is rejected whole (epsilon and state unchanged); both are counted in .diagnostics.
eps0 > 0: the rule scales eps0 (use ConstantController(eps=0) for a fixed clip range of 0).)doc");
  ppobr_cls.def(py::init([](const py::args& args, const py::kwargs& kwargs) {
    return ppobr::PPOBRController(ppobr_config_from(args, kwargs));
  }));
  common_controller_methods<ppobr::PPOBRController>(ppobr_cls);

  py::class_<ppobr::ConstantController, ppobr::Controller> const_cls(
      m, "ConstantController",
      "ConstantController(eps=0.2)\n\nPlain PPO: a fixed clip range eps >= 0.");
  const_cls.def(py::init([](const py::args& args, const py::kwargs& kwargs) {
    return ppobr::ConstantController(constant_config_from(args, kwargs));
  }));
  common_controller_methods<ppobr::ConstantController>(const_cls);

  py::class_<ppobr::LinearDecayController, ppobr::Controller> lin_cls(m, "LinearDecayController",
                                                                      R"doc(
LinearDecayController(eps_start=0.2, eps_end=0.0, *, total_updates)

Linear schedule: the t-th update (t = 0, 1, ...) returns
    eps_start + (eps_end - eps_start) * min(t, total_updates) / total_updates,
with eps_start >= 0, eps_end >= 0 and total_updates >= 1 (required).)doc");
  lin_cls.def(py::init([](const py::args& args, const py::kwargs& kwargs) {
    return ppobr::LinearDecayController(linear_decay_config_from(args, kwargs));
  }));
  common_controller_methods<ppobr::LinearDecayController>(lin_cls);

  py::class_<ppobr::KLAdaptiveController, ppobr::Controller> kl_cls(m, "KLAdaptiveController",
                                                                    R"doc(
KLAdaptiveController(eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.5, eps_min=0.02, eps_max=0.5)

KL-adaptive clip range: after an update whose measured KL exceeds kl_target * tolerance,
eps /= rate; below kl_target / tolerance, eps *= rate; then clip to [eps_min, eps_max].
update() requires kl=...; a non-finite kl leaves eps unchanged (counted). eps0 > 0 and
eps_min > 0: a rule that scales eps could never move it from 0.)doc");
  kl_cls.def(py::init([](const py::args& args, const py::kwargs& kwargs) {
    return ppobr::KLAdaptiveController(kl_adaptive_config_from(args, kwargs));
  }));
  common_controller_methods<ppobr::KLAdaptiveController>(kl_cls);

  m.def(
      "load_controller",
      [](const py::args& args, const py::kwargs& kwargs) {
        static const Signature sig{"load_controller", {"state_dict"}, 1, {"state_dict"}};
        return wrap_controller(controller_from_state(bind_arguments(sig, args, kwargs)[0]));
      },
      "load_controller(state_dict)\n\n"
      "Rebuilds whichever controller a state_dict() (or its 'state' bytes) holds.");
}

}  // namespace ppobr_binding
