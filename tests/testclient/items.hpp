#pragma once
// The test client's own application: items that people log in to read and add. Its worker
// (worker.cpp) serves it behind nginx for the URL mode; the tests run it in process too.
#include "kiva/app/app.hpp"

namespace items {

void declare(kiva::App& app);

}  // namespace items
