// Fuzz target: the controller deserializer under hostile bytes.
//
// The first input byte picks how the rest becomes the bytes under test:
//   0  as is (random bytes: almost always rejected at the magic or the checksum);
//   1  as is, then the trailing 8-byte FNV-1a checksum recomputed, so the parser proper runs;
//   2  "PPOBRCTL" + version 1 prepended and the checksum fixed: straight into the per-type body;
//   3  a valid controller built from the input (fuzzed type, config and updates), serialized,
//      then mutated (byte edits, truncation, insertion, field splices), checksum fixed or not.
// Invariants: deserialize_controller either throws ppobr::InvalidArgument("state") or returns a
// controller that (a) re-serializes to exactly the same bytes, (b) can be updated without
// anything but InvalidArgument being thrown and (c) keeps eps within its bounds after an
// accepted update; ppobr_controller_restore (the C ABI) agrees and never crashes.
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "ppobr/c_api.h"
#include "ppobr/ppobr.hpp"

namespace {

std::uint64_t fnv1a64(const std::uint8_t* d, std::size_t n) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= d[i];
    h *= 1099511628211ull;
  }
  return h;
}

void fix_checksum(std::vector<std::uint8_t>& b) {
  if (b.size() < 8) return;
  const std::uint64_t h = fnv1a64(b.data(), b.size() - 8);
  for (int i = 0; i < 8; ++i)
    b[b.size() - 8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h >> (8 * i));
}

std::vector<std::uint8_t> valid_bytes(FuzzedDataProvider& p) {
  std::unique_ptr<ppobr::Controller> c;
  try {
    switch (p.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {
        ppobr::PPOBRConfig cfg;
        cfg.window = p.ConsumeIntegralInRange<std::int64_t>(2, 9);
        cfg.psi_mode = p.ConsumeBool() ? ppobr::PsiMode::Plateau : ppobr::PsiMode::Progress;
        if (p.ConsumeBool()) cfg.entropy_ref = p.ConsumeFloatingPointInRange<double>(0.1, 3.0);
        if (p.ConsumeBool()) cfg.eps_min = p.ConsumeFloatingPointInRange<double>(0.0, 0.15);
        if (p.ConsumeBool()) cfg.eps_max = p.ConsumeFloatingPointInRange<double>(0.25, 0.6);
        c = std::make_unique<ppobr::PPOBRController>(cfg);
        break;
      }
      case 1:
        c = std::make_unique<ppobr::ConstantController>(ppobr::ConstantConfig{});
        break;
      case 2: {
        ppobr::LinearDecayConfig cfg;
        cfg.total_updates = p.ConsumeIntegralInRange<std::int64_t>(1, 10);
        c = std::make_unique<ppobr::LinearDecayController>(cfg);
        break;
      }
      default:
        c = std::make_unique<ppobr::KLAdaptiveController>(ppobr::KLAdaptiveConfig{});
        break;
    }
    const int updates = p.ConsumeIntegralInRange<int>(0, 12);
    for (int t = 0; t < updates; ++t) {
      ppobr::Observation o;
      o.entropy = p.ConsumeFloatingPointInRange<double>(0.05, 2.0);
      o.kl = p.ConsumeFloatingPointInRange<double>(0.0, 0.05);
      double r[3];
      const int n = p.ConsumeIntegralInRange<int>(0, 3);
      for (int i = 0; i < n; ++i) r[i] = p.ConsumeFloatingPointInRange<double>(-100.0, 500.0);
      o.episode_returns = r;
      o.num_episode_returns = static_cast<std::size_t>(n);
      c->update(o);
    }
  } catch (const ppobr::InvalidArgument&) {
    return {};
  }
  return c->serialize();
}

void mutate(FuzzedDataProvider& p, std::vector<std::uint8_t>& b) {
  const int edits = p.ConsumeIntegralInRange<int>(0, 4);
  for (int e = 0; e < edits && p.remaining_bytes() > 0; ++e) {
    const std::size_t pos = b.empty() ? 0 : p.ConsumeIntegralInRange<std::size_t>(0, b.size() - 1);
    switch (p.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:  // overwrite one byte
        if (!b.empty()) b[pos] = p.ConsumeIntegral<std::uint8_t>();
        break;
      case 1:  // overwrite an aligned-ish 8-byte field with a fuzzed double
        if (b.size() >= pos + 8) {
          const std::uint64_t u = fuzz::bits(fuzz::any_double(p));
          for (int i = 0; i < 8; ++i)
            b[pos + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(u >> (8 * i));
        }
        break;
      case 2:  // overwrite an 8-byte field with a fuzzed integer (counts, sizes, window)
        if (b.size() >= pos + 8) {
          const std::uint64_t u = static_cast<std::uint64_t>(fuzz::any_int64(p, -4, 64));
          for (int i = 0; i < 8; ++i)
            b[pos + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(u >> (8 * i));
        }
        break;
      case 3:  // truncate
        b.resize(pos);
        break;
      case 4:  // insert bytes
      {
        const std::string ins = p.ConsumeRandomLengthString(16);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), ins.begin(), ins.end());
      } break;
      default:  // erase a few bytes
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos),
                b.begin() + static_cast<std::ptrdiff_t>(std::min(
                                b.size(), pos + p.ConsumeIntegralInRange<std::size_t>(1, 16))));
        break;
    }
  }
}

void check(const std::vector<std::uint8_t>& bytes, FuzzedDataProvider& p) {
  // The C ABI first: never crashes, agrees with the C++ API.
  ppobr_controller* h = nullptr;
  const ppobr_status st =
      ppobr_controller_restore(bytes.empty() ? nullptr : bytes.data(), bytes.size(), &h);
  FUZZ_ASSERT(st == PPOBR_OK || st == PPOBR_ERROR_INVALID_ARGUMENT, "restore returned %d: %s", st,
              ppobr_last_error_message());
  if (st != PPOBR_OK) {
    FUZZ_ASSERT(h == nullptr, "failed restore left a handle");
    FUZZ_ASSERT(std::string(ppobr_last_error_argument()) == "state", "restore error names '%s': %s",
                ppobr_last_error_argument(), ppobr_last_error_message());
  }
  ppobr_controller_destroy(h);

  std::unique_ptr<ppobr::Controller> c;
  try {
    c = ppobr::deserialize_controller(bytes.empty() ? nullptr : bytes.data(), bytes.size());
  } catch (const ppobr::InvalidArgument& e) {
    FUZZ_ASSERT(e.argument() == "state", "deserialize rejected naming '%s': %s",
                e.argument().c_str(), e.what());
    FUZZ_ASSERT(st == PPOBR_ERROR_INVALID_ARGUMENT, "C ABI accepted what C++ rejected");
    return;
  }
  FUZZ_ASSERT(st == PPOBR_OK, "C ABI rejected what C++ accepted");
  // Accepted: the format is canonical, so the bytes must come back exactly.
  FUZZ_ASSERT(c->serialize() == bytes, "accepted bytes re-serialize differently (%zu bytes)",
              bytes.size());
  // And the restored controller must be usable.
  for (int t = 0; t < 4; ++t) {
    ppobr::Observation o;
    if (p.ConsumeBool()) o.entropy = fuzz::mostly_finite(p);
    if (p.ConsumeBool()) o.kl = fuzz::mostly_finite(p);
    double r[2] = {fuzz::mostly_finite(p), fuzz::mostly_finite(p)};
    o.episode_returns = r;
    o.num_episode_returns = p.ConsumeIntegralInRange<std::size_t>(0, 2);
    double eps = 0.0;
    try {
      eps = c->update(o);
    } catch (const ppobr::InvalidArgument&) {
      continue;
    }
    FUZZ_ASSERT(!std::isnan(eps), "NaN eps from a restored controller");
    if (auto* b = dynamic_cast<const ppobr::PPOBRController*>(c.get())) {
      if (b->state().updates > 0)
        FUZZ_ASSERT(eps >= ppobr::eps_min_of(b->config()) && eps <= ppobr::eps_max_of(b->config()),
                    "restored PPO-BR eps %.17g out of bounds", eps);
    } else if (auto* k = dynamic_cast<const ppobr::KLAdaptiveController*>(c.get())) {
      FUZZ_ASSERT(eps >= k->config().eps_min && eps <= k->config().eps_max,
                  "restored KL eps out of bounds");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  FuzzedDataProvider p(data + 1, size - 1);
  std::vector<std::uint8_t> bytes;
  switch (mode) {
    case 0:
      bytes.assign(data + 1, data + size);
      break;
    case 1:
      bytes.assign(data + 1, data + size);
      fix_checksum(bytes);
      break;
    case 2: {
      static const std::uint8_t kHeader[12] = {'P', 'P', 'O', 'B', 'R', 'C', 'T', 'L', 1, 0, 0, 0};
      bytes.assign(kHeader, kHeader + sizeof kHeader);
      bytes.insert(bytes.end(), data + 1, data + size);
      bytes.resize(bytes.size() + 8);
      fix_checksum(bytes);
      break;
    }
    default: {
      bytes = valid_bytes(p);
      if (bytes.empty()) return 0;
      const bool fix = p.ConsumeBool();
      mutate(p, bytes);
      if (fix) fix_checksum(bytes);
      break;
    }
  }
  check(bytes, p);
  return 0;
}
