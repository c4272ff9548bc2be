#pragma once
// CF time coordinates (CF conventions 4.4): the CF calendars, "<unit> since <date>" units, and the
// calendar periods (hour .. year, DJF seasons) that climatologies and resampling group by.
//
// Year numbering follows cftime's defaults: standard and julian have no year 0 (1 BC is year -1),
// proleptic_gregorian and the idealised calendars (noleap, all_leap, 360_day) number years
// astronomically (year 0 exists). Times are exact to the microsecond: day counts are integers and
// time of day is handled in integer microseconds, never as a fraction of a day.
#include <cstdint>
#include <string>

namespace tessera::cf {

enum class Calendar { standard, proleptic_gregorian, noleap, all_leap, day360, julian };

// Accepts CF names and aliases case-insensitively: standard, gregorian, proleptic_gregorian,
// noleap, 365_day, all_leap, 366_day, 360_day, julian. Empty -> standard. False for anything else
// (e.g. "none").
bool parse_calendar(const std::string& name, Calendar& out);
// Canonical CF name: "standard", "proleptic_gregorian", "noleap", "all_leap", "360_day", "julian".
std::string calendar_name(Calendar c);

// A calendar date and time of day. `second` is in [0, 60) with microsecond resolution.
struct DateTime {
  int year = 1, month = 1, day = 1, hour = 0, minute = 0;
  double second = 0;
};
bool operator==(const DateTime& a, const DateTime& b);
bool operator!=(const DateTime& a, const DateTime& b);
bool operator<(const DateTime& a, const DateTime& b);  // chronological (field by field)
bool operator<=(const DateTime& a, const DateTime& b);
bool operator>(const DateTime& a, const DateTime& b);
bool operator>=(const DateTime& a, const DateTime& b);

// Length of a month / a year. standard: Julian rules before 1582-10-15, Gregorian after; October
// 1582 has 21 days (the 5th to the 14th do not exist), so 1582 has 355. Throws
// std::invalid_argument for a month outside 1..12 or a year that does not exist (0 in standard
// and julian).
int days_in_month(int year, int month, Calendar c);
int days_in_year(int year, Calendar c);
// Every field in range for calendar c, including the 1582 gap and year 0 where they apply.
bool valid_date(const DateTime& d, Calendar c);
// 1-based day of the year (Jan 1 = 1); in standard 1582, 1582-10-15 is day 278.
int day_of_year(const DateTime& d, Calendar c);

// Days since 0001-01-01 in calendar c (negative before it). Exact. to_serial_day throws
// std::invalid_argument for a date that does not exist in c.
std::int64_t to_serial_day(int year, int month, int day, Calendar c);
void from_serial_day(std::int64_t serial, Calendar c, int& year, int& month, int& day);

// Decoded "units" (+ "calendar") attributes of a CF time coordinate.
struct TimeUnits {
  double seconds_per_unit = 86400;
  DateTime epoch;                        // in UTC: a "+05:30" offset in the units is applied
  Calendar calendar = Calendar::standard;
  std::string unit;                      // canonical: "microseconds", "milliseconds", "seconds",
                                         // "minutes", "hours", "days", "common_years", "months", "years"
  std::string text;                      // the units attribute as given
};
// Parses "<unit> since <date>[( |T)<time>][ <zone>]" as CF/udunits write it:
//   unit: seconds|second|secs|sec|s, minutes|minute|mins|min, hours|hour|hrs|hr|h, days|day|d,
//         milliseconds|millisecs|millisec|msecs|msec|ms, microseconds|microsecs|microsec|usecs|
//         usec|us (any case); common_years (365 d,
//         noleap only); months/years (30 d / 360 d, 360_day only; CF discourages them elsewhere).
//   date: [+-]Y-M-D (1 or 2 digit month and day), e.g. 1850-01-01, 1850-1-1; time h[:m[:s[.f]]]
//         after a 'T' or blanks (fractions past the microsecond are dropped);
//   zone: Z, UTC, GMT or an offset +hh[:mm], +hhmm (applied: the epoch is stored in UTC).
// Throws std::invalid_argument saying what is wrong and what a valid value looks like; callers
// add the file and variable.
TimeUnits parse_time_units(const std::string& units, const std::string& calendar_attr);

// A value in units `u` -> the date it denotes, and back. Exact for whole units; fractions are
// rounded to the nearest microsecond (as cftime does), so 0.5 days is 12:00:00 exactly and
// 0.999999999 days is 23:59:59.999914. Throws std::invalid_argument for non-finite values or
// dates more than about 300 million years from the epoch.
DateTime to_datetime(double value, const TimeUnits& u);
double from_datetime(const DateTime& d, const TimeUnits& u);
// A value in `from` -> the same instant in `to` (microsecond resolution). The calendars must be
// the same, else std::invalid_argument.
double convert(double value, const TimeUnits& from, const TimeUnits& to);

// ISO 8601 dates as written in job files: "1991", "1991-01", "1991-01-01", "1991-01-01T12",
// "1991-01-01 12:30", "1991-01-01T12:30:00[.f]" (an optional trailing Z). Years have up to 5
// digits, or a sign and any number. A partial date names a period; missing parts are its start.
// With end_of_period the result is instead the period's LAST microsecond, i.e. the start of the
// next period minus 1 us: "2020" -> 2020-12-31T23:59:59.999999, "2020-12-31" -> 2020-12-31T
// 23:59:59.999999, "2020-12-31T12:30:00" -> 12:30:00.999999. So the inclusive range
// ["1991-01-01", end "2020-12-31"] holds every time step on 2020-12-31 (as xarray's .sel).
// Throws std::invalid_argument for malformed dates and dates that do not exist in calendar c.
DateTime parse_iso_date(const std::string& s, Calendar c, bool end_of_period = false);
// "1991-01-01" when the time is 00:00:00, else "1991-01-01T12:30:00" (fractional seconds to the
// microsecond, trailing zeros dropped: "T12:30:00.5"). Years have at least 4 digits, "-0044-03-15".
std::string format_iso(const DateTime& d);

// Grouping keys of climatologies and resampling.
enum class Period { hour, day, month, season, year };
// Start of the period that contains d. Seasons are DJF, MAM, JJA, SON; the DJF that contains
// December Y runs from Dec Y to the end of Feb Y+1 (CDO, xarray resample("QS-DEC")), so the
// season of 2001-01-15 starts on 2000-12-01.
DateTime period_start(const DateTime& d, Period p, Calendar c);
// Start of the period after the one that contains `start` (any date in it will do).
DateTime next_period_start(const DateTime& start, Period p, Calendar c);
// 0..3 = DJF, MAM, JJA, SON for a month 1..12.
int season_of_month(int month);

}  // namespace tessera::cf
