#include "kiva/core/json.hpp"

#include <cmath>

namespace kiva::js {

void write(Writer& w, double d) {
    // RapidJSON refuses NaN and infinities (they are not JSON): say null instead.
    if (std::isfinite(d))
        w.Double(d);
    else
        w.Null();
}

}  // namespace kiva::js
