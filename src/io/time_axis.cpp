#include "io/time_axis.hpp"

#include <stdexcept>

#include "core/error.hpp"

namespace tessera {

std::optional<TimeAxis> find_time_axis(const InputMeta& meta, const std::string& where) {
  for (std::size_t a = 0; a < meta.var.dims.size(); ++a) {
    const CoordinateInfo* c = meta.coordinate(meta.var.dims[a]);
    if (!c || c->values.empty()) continue;
    const Attribute* units = c->var.attr("units");
    if (!units || !units->is_text || units->text.find(" since ") == std::string::npos) continue;
    const Attribute* cal = c->var.attr("calendar");
    TimeAxis t;
    t.axis = a;
    t.name = c->var.name;
    try {
      t.units = cf::parse_time_units(units->text, cal && cal->is_text ? cal->text : "");
      t.dates.reserve(c->values.size());
      for (double v : c->values) t.dates.push_back(cf::to_datetime(v, t.units));
    } catch (const std::invalid_argument& e) {
      const std::string file = meta.parts.empty() ? std::string() : " in '" + meta.parts.front().path + "'";
      throw InputError("time coordinate '" + c->var.name + "'" + file + " of " + where + ": " + e.what());
    }
    return t;
  }
  return std::nullopt;
}

}  // namespace tessera
