#include "job/job_spec.hpp"

namespace tessera {
namespace {

// One table keeps op_name and parse_op in step.
constexpr struct { Op op; const char* name; } k_ops[] = {
    {Op::sum, "sum"}, {Op::mean, "mean"}, {Op::min, "min"},   {Op::max, "max"},
    {Op::count, "count"}, {Op::var, "var"}, {Op::std, "std"},
    {Op::frequency, "frequency"}, {Op::median, "median"}, {Op::quantile, "quantile"}, {Op::histogram, "histogram"}};

}  // namespace

std::string op_name(Op op) {
  for (const auto& e : k_ops)
    if (e.op == op) return e.name;
  return "?";
}

bool parse_op(const std::string& s, Op& out) {
  for (const auto& e : k_ops)
    if (s == e.name) { out = e.op; return true; }
  return false;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& e : k_ops) names.push_back(e.name);
  return names;
}

const InputSpec* JobSpec::find_input(const std::string& alias) const {
  for (const auto& in : inputs)
    if (in.alias == alias) return &in;
  return nullptr;
}

}  // namespace tessera
