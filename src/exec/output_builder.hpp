#pragma once
// Assembles the CF-compliant output dataset from the reductions' results: dimension
// coordinates (sliced by selections, grouped time axes with CF bounds or climatology bounds,
// quantile and bin axes), scalar coordinates for reduced axes, cell_methods and attributes.
#include <map>
#include <string>
#include <vector>

#include "cf/decoding.hpp"
#include "io/sink.hpp"
#include "job/job_spec.hpp"
#include "plan/plan.hpp"

namespace tessera {

// Result of one reduction on this rank: the owned box and its final values.
struct Result {
  std::size_t reduction = 0;
  Box owned;
  bool owns = false;
  std::vector<double> values;
};

class OutputBuilder {
 public:
  OutputBuilder(const JobSpec& job, const std::vector<InputMeta>& views, int rank)
      : job_(job), metas_(views), rank_(rank) {}

  // `dec`: the input's CF decoding as the executor used it; `weights`: what weighted it ("" if none).
  void add(const InputPlan& ip, const ReductionPlan& rp, const Result& res, const Decoding& dec,
           const std::string& weights);
  OutputDataset build(const std::string& history, int ranks);

 private:
  struct Dim {
    std::string name;
    std::size_t length = 0;
    std::vector<double> values;  // its coordinate's values (empty: none written)
  };
  struct Scalar {
    std::string name;
    double lo = 0, hi = 0;
    const CoordinateInfo* coord = nullptr;
  };
  struct CellMethods {
    std::string prior, method, group_dim, group_within;  // group_within: "years"/"days" (climatology)
    bool resampled = false;
    std::vector<std::pair<std::string, const CoordinateInfo*>> reduced;  // output name, its coordinate
  };

  // The name under which a dimension of this length and these coordinate values is written:
  // `base` when free or identical, else `alt` (then alt_2, ...).
  std::string claim_dimension(const std::string& base, const std::string& alt, std::size_t length,
                              const std::vector<double>& values, bool& is_new);
  std::string claim_scalar(const CoordinateInfo* c, const std::string& alt, double lo, double hi, bool& is_new);
  std::string cell_methods_text(const CellMethods& cm) const;
  bool has_dim(const std::string& n) const;
  static std::vector<Attribute> coordinate_attrs(const CoordinateInfo& c);
  OutputVariable rank0_variable(const std::string& name, std::vector<std::string> dims, DType type,
                                const std::vector<std::size_t>& shape, std::vector<double> values) const;

  const JobSpec& job_;
  const std::vector<InputMeta>& metas_;
  int rank_;
  std::vector<Dim> dims_;
  std::vector<Scalar> scalars_;
  std::vector<OutputVariable> coords_, results_;
  std::vector<CellMethods> cell_methods_;  // per result
};

}  // namespace tessera
