"""How numbers look in the results tables (`ppobr compare`'s and `ppobr report`'s Markdown).

NaN and None (NaN after a JSON round trip) print as "–", an infinite step count as
"not reached"; confidence intervals print as " [lo, hi]", or nothing when there is none.
"""

from __future__ import annotations

import math


def number(x, fmt="{:.1f}") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "not reached"
    return fmt.format(x)


def interval(ci, fmt="{:.1f}") -> str:
    if not ci or ci[0] is None or (isinstance(ci[0], float) and math.isnan(ci[0])):
        return ""
    return f" [{number(ci[0], fmt)}, {number(ci[1], fmt)}]"


def kilo_steps(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "not reached"
    return f"{x / 1000:.1f}k"


def kilo_steps_interval(ci) -> str:
    if not ci or ci[0] is None or math.isnan(ci[0]):
        return ""
    return f" [{ci[0] / 1000:.1f}k, {ci[1] / 1000:.1f}k]"


def percent(x):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return x
    return 100.0 * x
