#pragma once
/// @file
/// Exposition: writes the Prometheus text format (version 0.0.4): HELP and TYPE lines,
/// samples with escaped label values, histogram buckets.

#include <string>
#include <utility>
#include <vector>

namespace kiva::observe {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
  public:
    /// Starts a metric family; samples that follow belong to it.
    void family(const std::string& name, const std::string& type, const std::string& help);
    /// A sample of the current family (a counter or gauge).
    void sample(const Labels& labels, double value);
    /// A histogram bucket: le < 0 is +Inf.
    void bucket(const Labels& labels, double le, std::uint64_t cumulative);
    void sum_count(const Labels& labels, double sum, std::uint64_t count);
    std::string take() { return std::move(out_); }

  private:
    void line(const std::string& name, const Labels& labels, const std::string& extra_label,
              const std::string& value);
    std::string name_;
    std::string out_;
};

/// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(const std::string& value);
/// A sample value: integers without a fraction, others with enough digits.
std::string format_value(double value);

}  // namespace kiva::observe
