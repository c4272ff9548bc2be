#pragma once
// The time axis of an input, decoded with its CF units and calendar: what selections by date,
// climatologies and resampling work from.
#include <optional>
#include <string>
#include <vector>

#include "cf/calendar.hpp"
#include "io/metadata.hpp"

namespace tessera {

struct TimeAxis {
  std::size_t axis = 0;              // in the variable's dimensions
  std::string name;                  // the coordinate (and dimension) name
  cf::TimeUnits units;
  std::vector<cf::DateTime> dates;   // one per index along the axis
};

// The axis whose coordinate has units "<unit> since <date>" (CF 4.4), decoded; nullopt when the
// variable has none. Malformed units or an unknown calendar are an InputError naming `where`.
std::optional<TimeAxis> find_time_axis(const InputMeta& meta, const std::string& where);

}  // namespace tessera
