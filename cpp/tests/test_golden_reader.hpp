// Reads the golden vectors written by tests/golden/generate.py from the oracle
// (tests/reference.py), and applies the tolerances of tests/golden/tolerances.txt.
//
// The format (tests/golden/golden_io.py): one record per line, "key token token ...";
// "case <name>" starts a case, "end" closes it, "#" starts a comment. Floats are C99 hex
// floats or inf / -inf / nan, read back bit for bit by std::strtod. Controller records hold
// "name=value" tokens, several values separated by commas.
//
// PPOBR_GOLDEN_DIR (a compile definition from cpp/tests/CMakeLists.txt) is tests/golden.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ppobr/surrogate.hpp"

namespace golden {

inline std::string path(const char* file) { return std::string(PPOBR_GOLDEN_DIR) + "/" + file; }

inline double number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0')
    throw std::runtime_error("golden: not a number: '" + s + "'");
  return v;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

// One case: its name and its records, in file order (a key may repeat: controller updates).
struct Record {
  std::string key;
  std::vector<std::string> tokens;
};
struct RawCase {
  std::string name;
  std::vector<Record> records;
  const Record* find(const std::string& key) const {
    for (const Record& r : records)
      if (r.key == key) return &r;
    return nullptr;
  }
  const std::vector<std::string>& at(const std::string& key) const {
    const Record* r = find(key);
    if (!r) throw std::runtime_error("golden case " + name + ": no '" + key + "'");
    return r->tokens;
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> v;
    for (const std::string& t : at(key)) v.push_back(number(t));
    return v;
  }
};

inline std::vector<RawCase> read_cases(const char* file) {
  std::ifstream in(path(file));
  if (!in) throw std::runtime_error("golden: cannot open " + path(file));
  std::vector<RawCase> cases;
  std::string line;
  RawCase cur;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> t = split(line, ' ');
    Record r{t[0], std::vector<std::string>(t.begin() + 1, t.end())};
    if (r.key == "case") {
      cur = RawCase{r.tokens.at(0), {}};
    } else if (r.key == "end") {
      cases.push_back(cur);
    } else {
      cur.records.push_back(std::move(r));
    }
  }
  return cases;
}

// "name=value" tokens of a controller record.
inline std::map<std::string, std::string> pairs(const std::vector<std::string>& tokens) {
  std::map<std::string, std::string> m;
  for (const std::string& t : tokens) {
    const std::size_t eq = t.find('=');
    m[t.substr(0, eq)] = eq == std::string::npos ? std::string() : t.substr(eq + 1);
  }
  return m;
}

// (path, dtype, quantity) -> relative tolerance.
inline double tolerance(const std::string& path_name, const std::string& dtype,
                        const std::string& quantity) {
  std::ifstream in(path("tolerances.txt"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string p, d, q, tol;
    s >> p >> d >> q >> tol;
    if (p == path_name && d == dtype && q == quantity) return number(tol);
  }
  throw std::runtime_error("golden: no tolerance for " + path_name + " " + dtype + " " + quantity);
}

// A surrogate case with its inputs in T and the oracle's expected outputs (float64).
template <class T>
struct SurrogateCase {
  std::string name;
  std::int64_t rows = 1, cols = 0;
  bool two_d = false;
  ppobr::SurrogateOptions opt;
  std::vector<T> lpn, lpo, adv, ent, mask;
  bool has_ent = false, has_mask = false;
  std::vector<std::int64_t> seg;
  std::int64_t nseg = 0;
  double loss = 0, loss_scale = 0;
  std::vector<double> grad, sums, counts, scale;
  std::int64_t n() const { return rows * cols; }

  ppobr::SurrogateInputs<T> inputs() const {
    auto view = [&](const std::vector<T>& v) {
      return ppobr::View2D<T>{v.data(), rows, cols, two_d ? cols : 0, 1};
    };
    ppobr::SurrogateInputs<T> in;
    in.logp_new = view(lpn);
    in.logp_old = view(lpo);
    in.advantages = view(adv);
    if (has_ent) in.entropy = view(ent);
    if (has_mask) in.mask = view(mask);
    if (!seg.empty()) {
      in.segment_ids = seg.data();
      in.num_segments = nseg;
    }
    return in;
  }
};

template <class T>
std::vector<SurrogateCase<T>> surrogate_cases() {
  const std::string want = sizeof(T) == 4 ? "float32" : "float64";
  std::vector<SurrogateCase<T>> out;
  for (const RawCase& raw : read_cases("surrogate.txt")) {
    if (raw.at("dtype").at(0) != want) continue;
    SurrogateCase<T> c;
    c.name = raw.name;
    const auto& shape = raw.at("shape");
    c.two_d = shape.size() == 2;
    c.rows = c.two_d ? std::stoll(shape[0]) : 1;
    c.cols = std::stoll(shape.back());
    c.opt.eps_low = number(raw.at("eps_low").at(0));
    c.opt.eps_high = number(raw.at("eps_high").at(0));
    c.opt.dual_clip = raw.find("dual_clip") ? number(raw.at("dual_clip").at(0)) : 0.0;
    c.opt.aggregation = ppobr::parse_aggregation(raw.at("aggregation").at(0).c_str());
    auto in_t = [&](const std::string& key) {
      std::vector<T> v;
      for (double x : raw.numbers(key)) v.push_back(static_cast<T>(x));  // exact: written from T
      return v;
    };
    c.lpn = in_t("logp_new");
    c.lpo = in_t("logp_old");
    c.adv = in_t("advantages");
    if ((c.has_ent = raw.find("entropy") != nullptr)) c.ent = in_t("entropy");
    if ((c.has_mask = raw.find("mask") != nullptr)) c.mask = in_t("mask");
    if (raw.find("segment_ids")) {
      for (const std::string& t : raw.at("segment_ids")) c.seg.push_back(std::stoll(t));
      c.nseg = std::stoll(raw.at("num_segments").at(0));
    }
    c.loss = number(raw.at("loss").at(0));
    c.loss_scale = number(raw.at("loss_scale").at(0));
    c.grad = raw.numbers("grad");
    c.sums = raw.numbers("sums");
    c.counts = raw.numbers("counts");
    c.scale = raw.numbers("scale");
    out.push_back(std::move(c));
  }
  return out;
}

inline bool near(double got, double want, double bound) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= bound;
}

// The mismatches of a kernel result against a case under `path`'s tolerances (the rules of
// golden_io.surrogate_mismatches); empty when everything matches.
template <class T>
std::vector<std::string> mismatches(const SurrogateCase<T>& c, const ppobr::SurrogateResult& r,
                                    const std::vector<T>& grad, const std::string& path_name) {
  const std::string dt = sizeof(T) == 4 ? "float32" : "float64";
  const double rel = tolerance(path_name, dt, "value");
  const double rel_k3 = tolerance(path_name, dt, "kl_k3");
  std::vector<std::string> bad;
  auto num = [](double x) {
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", x);
    return std::string(b);
  };
  if (!near(r.loss, c.loss, rel * std::max(c.loss_scale, std::fabs(c.loss)) + 1e-300))
    bad.push_back("loss " + num(r.loss) + " != " + num(c.loss));
  double gmax = 0;
  for (double g : c.grad)
    if (std::isfinite(g)) gmax = std::max(gmax, std::fabs(g));
  for (std::size_t i = 0; i < c.grad.size(); ++i) {
    const double g = static_cast<double>(grad[i]), w = c.grad[i];
    if ((g == 0) != (w == 0) || !near(g, w, rel * std::fabs(w) + 1e-3 * rel * gmax + 1e-300)) {
      bad.push_back("grad[" + std::to_string(i) + "] " + num(g) + " != " + num(w));
      break;
    }
  }
  for (int k = 0; k < ppobr::kNumStats; ++k) {
    const std::size_t K = static_cast<std::size_t>(k);
    const bool minmax = k == ppobr::kRatioMin || k == ppobr::kRatioMax;
    const double scale = minmax ? std::fabs(c.sums[K]) : c.scale[K];
    const double tol = (k == ppobr::kKlK3 ? rel_k3 : rel) * scale + 1e-300;
    if (!near(r.stats.sum[K], c.sums[K], tol))
      bad.push_back(std::string("sums[") + ppobr::kStatNames[K] + "] " + num(r.stats.sum[K]) +
                    " != " + num(c.sums[K]));
    if (!near(r.stats.count[K], c.counts[K], rel * c.counts[K] + 1e-300))
      bad.push_back(std::string("counts[") + ppobr::kStatNames[K] + "] " + num(r.stats.count[K]) +
                    " != " + num(c.counts[K]));
  }
  return bad;
}

}  // namespace golden
