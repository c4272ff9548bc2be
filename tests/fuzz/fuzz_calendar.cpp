// CF time decoding on strings from the input bytes: "units" and "calendar" attributes, time values
// and job-file dates. Each is either refused with std::invalid_argument (which the callers turn
// into an error naming the file and variable) or decoded to dates that exist in the calendar,
// that sit inside their periods, and that survive a round trip through their text form.
#include <cmath>
#include <stdexcept>

#include "cf/calendar.hpp"
#include "fuzz.hpp"

namespace {
namespace cf = tessera::cf;

const char* const calendars[] = {"standard", "gregorian", "proleptic_gregorian", "noleap", "365_day",
                                 "all_leap", "366_day",  "360_day",             "julian", "none"};
const cf::Period periods[] = {cf::Period::hour, cf::Period::day, cf::Period::month, cf::Period::season,
                              cf::Period::year};

// Dates of one period, the period's start and the next one's, in the calendar.
void check_periods(const cf::DateTime& d, cf::Calendar c) {
  for (cf::Period p : periods) {
    cf::DateTime start, next;
    try {
      start = cf::period_start(d, p, c);
      next = cf::next_period_start(start, p, c);
    } catch (const std::invalid_argument&) {
      continue;  // at the edge of the representable years
    }
    FUZZ_CHECK(cf::valid_date(start, c) && cf::valid_date(next, c));
    FUZZ_CHECK(start <= d && d < next);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::uint8_t which = in.take<std::uint8_t>();
  const double value = in.take<double>();
  const std::size_t units_len = in.take<std::uint8_t>();
  std::string units;
  for (std::size_t i = 0; i < units_len && in.left(); ++i) units += static_cast<char>(in.take<std::uint8_t>());
  const std::string date_text = in.rest();
  // A calendar name from the list, or the date text's first bytes as a free-form name.
  const std::string cal_attr = which & 0x80 ? date_text.substr(0, which & 0x0f) : calendars[which % 10];

  cf::Calendar c = cf::Calendar::standard;
  const bool known = cf::parse_calendar(cal_attr, c);
  try {
    const cf::TimeUnits u = cf::parse_time_units(units, cal_attr);
    FUZZ_CHECK(known);  // an unknown calendar is refused
    FUZZ_CHECK(u.seconds_per_unit > 0 && std::isfinite(u.seconds_per_unit));
    FUZZ_CHECK(cf::valid_date(u.epoch, u.calendar));
    try {
      const cf::DateTime d = cf::to_datetime(value, u);
      FUZZ_CHECK(cf::valid_date(d, u.calendar));
      check_periods(d, u.calendar);
      // Back to a value: the same instant to within the microsecond resolution of dates.
      const double back = cf::from_datetime(d, u);
      FUZZ_CHECK(std::fabs(back - value) * u.seconds_per_unit <= 1e-6 + 1e-12 * std::fabs(value * u.seconds_per_unit));
    } catch (const std::invalid_argument&) {
    }
  } catch (const std::invalid_argument&) {
  }

  for (bool end : {false, true}) {
    try {
      const cf::DateTime d = cf::parse_iso_date(date_text, c, end);
      FUZZ_CHECK(cf::valid_date(d, c));
      check_periods(d, c);
      if (!end) {
        // Written out and read again: the same date.
        const cf::DateTime again = cf::parse_iso_date(cf::format_iso(d), c);
        FUZZ_CHECK(again == d);
      }
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
