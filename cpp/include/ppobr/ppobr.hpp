// Umbrella header of the ppobr C++ core.
#pragma once
#include "ppobr/controllers.hpp"
#include "ppobr/distributions.hpp"
#include "ppobr/errors.hpp"
#include "ppobr/surrogate.hpp"
