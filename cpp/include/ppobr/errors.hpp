// Typed errors of the ppobr C++ core.
//
// Every rejected input throws ppobr::InvalidArgument, which names the argument at
// fault (argument()) so that bindings can map it to a precise message (Python:
// ValueError). The core never aborts and never returns a silently wrong number.
#pragma once

#include <stdexcept>
#include <string>

namespace ppobr {

class InvalidArgument : public std::invalid_argument {
 public:
  InvalidArgument(std::string argument, const std::string& message)
      : std::invalid_argument(argument + ": " + message), argument_(std::move(argument)) {}

  // Name of the offending argument or config field, e.g. "eps0" or "logp_new".
  const std::string& argument() const noexcept { return argument_; }

 private:
  std::string argument_;
};

}  // namespace ppobr
