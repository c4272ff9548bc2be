#include "cf/calendar.hpp"

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace tessera::cf {
namespace {

// Instants are microseconds since 0001-01-01T00:00 of the calendar. 300 million years of them
// overflow 64 bits, hence 128 (GCC/Clang builtin; __extension__ keeps -pedantic quiet).
__extension__ typedef __int128 Micros;

constexpr std::int64_t us_per_second = 1000000;
constexpr std::int64_t us_per_minute = 60 * us_per_second;
constexpr std::int64_t us_per_hour = 60 * us_per_minute;
constexpr std::int64_t us_per_day = 24 * us_per_hour;
constexpr double max_seconds = 1e16;  // |offset from the epoch| accepted by to_datetime (~317 My)

constexpr int cumulative_noleap[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
constexpr int cumulative_leap[13] = {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366};

template <typename T>
constexpr T floor_div(T a, T b) {
  T q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool has_year_zero(Calendar c) { return c != Calendar::standard && c != Calendar::julian; }

// Astronomical year (1 BC = 0) of a year as numbered in calendar c, and back.
std::int64_t astronomical(int year, Calendar c) { return (!has_year_zero(c) && year < 0) ? year + 1 : year; }
int from_astronomical(std::int64_t year, Calendar c) {
  if (!has_year_zero(c) && year <= 0) --year;
  if (year < INT_MIN || year > INT_MAX)
    throw std::invalid_argument("date out of range: year " + std::to_string(year) + " does not fit in an int");
  return static_cast<int>(year);
}

// Day counts from 0000-03-01 (astronomical years, years starting in March so that the leap day
// ends each cycle): Hinnant's days_from_civil, and its Julian analogue with 4-year cycles.
constexpr std::int64_t gregorian_days(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = floor_div<std::int64_t>(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
}
constexpr std::int64_t julian_days(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = floor_div<std::int64_t>(y, 4);
  const std::int64_t yoe = y - era * 4;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  return era * 1461 + yoe * 365 + doy;
}

void month_day_of_march_day(std::int64_t doy, int& m, int& d) {
  const std::int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
}
void gregorian_civil(std::int64_t z, std::int64_t& y, int& m, int& d) {
  const std::int64_t era = floor_div<std::int64_t>(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  month_day_of_march_day(doe - (365 * yoe + yoe / 4 - yoe / 100), m, d);
  y = yoe + era * 400 + (m <= 2);
}
void julian_civil(std::int64_t z, std::int64_t& y, int& m, int& d) {
  const std::int64_t era = floor_div<std::int64_t>(z, 1461);
  const std::int64_t doe = z - era * 1461;
  const std::int64_t yoe = (doe - doe / 1460) / 365;
  month_day_of_march_day(doe - 365 * yoe, m, d);
  y = yoe + era * 4 + (m <= 2);
}

constexpr std::int64_t gregorian_epoch = gregorian_days(1, 1, 1);
constexpr std::int64_t julian_epoch = julian_days(1, 1, 1);
// standard: Julian 1582-10-04 is followed by Gregorian 1582-10-15.
constexpr std::int64_t gregorian_switch = gregorian_days(1582, 10, 15);
constexpr std::int64_t standard_switch_serial = julian_days(1582, 10, 5) - julian_epoch;

bool gregorian_leap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }
bool julian_leap(std::int64_t y) { return y % 4 == 0; }

bool is_leap(int year, Calendar c) {
  const std::int64_t y = astronomical(year, c);
  switch (c) {
    case Calendar::proleptic_gregorian: return gregorian_leap(y);
    case Calendar::julian: return julian_leap(y);
    case Calendar::standard: return year < 1582 ? julian_leap(y) : gregorian_leap(y);
    case Calendar::all_leap: return true;
    case Calendar::noleap:
    case Calendar::day360: return false;
  }
  return false;
}

// The last day number of a month (31 for October 1582 in standard, which has 21 days).
int last_day(int year, int month, Calendar c) {
  if (c == Calendar::day360) return 30;
  static constexpr int lengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year, c) ? 29 : lengths[month - 1];
}

bool in_standard_gap(int year, int month, int day) { return year == 1582 && month == 10 && day > 4 && day < 15; }

std::string two(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}
std::string ymd(int y, int m, int d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%04d-%02d-%02d", y < 0 ? "-" : "", y < 0 ? -y : y, m, d);
  return buf;
}

bool date_exists(int y, int m, int d, Calendar c) {
  if (m < 1 || m > 12 || d < 1 || d > last_day(y, m, c)) return false;
  if (y == 0 && !has_year_zero(c)) return false;
  return c != Calendar::standard || !in_standard_gap(y, m, d);
}

// Why y-m-d does not exist in calendar c, or "" when it does.
std::string date_problem(int y, int m, int d, Calendar c) {
  if (date_exists(y, m, d, c)) return "";
  const std::string name = calendar_name(c);
  if (y == 0 && !has_year_zero(c))
    return "year 0 does not exist in the " + name + " calendar (year -1 precedes year 1)";
  if (m < 1 || m > 12) return "month " + std::to_string(m) + " is not in 1..12";
  if (c == Calendar::standard && in_standard_gap(y, m, d))
    return ymd(y, m, d) + " does not exist in the standard calendar (1582-10-04 is followed by 1582-10-15)";
  const std::string month = ymd(y, m, 1);
  return ymd(y, m, d) + " does not exist in the " + name + " calendar (" + month.substr(0, month.size() - 3) +
         " has days 1.." + std::to_string(last_day(y, m, c)) + ")";
}
std::string time_problem(int hour, int minute, double second) {
  if (hour < 0 || hour > 23) return "hour " + std::to_string(hour) + " is not in 0..23";
  if (minute < 0 || minute > 59) return "minute " + std::to_string(minute) + " is not in 0..59";
  if (!(second >= 0 && second < 60)) return "second " + std::to_string(second) + " is not in [0, 60)";
  return "";
}

void check_exists(int y, int m, int d, Calendar c) {
  if (date_exists(y, m, d, c)) return;
  throw std::invalid_argument(date_problem(y, m, d, c));
}

std::int64_t time_of_day_us(const DateTime& d) {
  return (d.hour * 60 + d.minute) * us_per_minute + std::llround(d.second * 1e6);
}

Micros instant_of(const DateTime& d, Calendar c) {
  if (!(d.hour >= 0 && d.hour <= 23 && d.minute >= 0 && d.minute <= 59 && d.second >= 0 && d.second < 60))
    throw std::invalid_argument(time_problem(d.hour, d.minute, d.second));
  return Micros(to_serial_day(d.year, d.month, d.day, c)) * us_per_day + time_of_day_us(d);
}

DateTime datetime_of(Micros us, Calendar c) {
  const Micros serial = floor_div<Micros>(us, us_per_day);
  if (serial < INT64_MIN / 2 || serial > INT64_MAX / 2) throw std::invalid_argument("date out of range");
  std::int64_t rest = static_cast<std::int64_t>(us - serial * us_per_day);
  DateTime t;
  from_serial_day(static_cast<std::int64_t>(serial), c, t.year, t.month, t.day);
  t.hour = static_cast<int>(rest / us_per_hour);
  rest %= us_per_hour;
  t.minute = static_cast<int>(rest / us_per_minute);
  t.second = static_cast<double>(rest % us_per_minute) / 1e6;
  return t;
}

// Microseconds per unit when it is a whole number (every unit parse_time_units makes), else 0.
std::int64_t whole_micros_per_unit(const TimeUnits& u) {
  // 1e-3 s * 1e6 is not exactly 1000 in binary: accept what is within rounding of an integer.
  const double x = u.seconds_per_unit * 1e6;
  const double r = std::round(x);
  if (!(r >= 1 && r < 1e18) || std::fabs(x - r) > 1e-9 * r) return 0;
  return static_cast<std::int64_t>(r);
}

// value units after u's epoch, in microseconds (whole units exact, the fraction rounded).
Micros offset_us(double value, const TimeUnits& u) {
  if (!std::isfinite(value)) throw std::invalid_argument("time value " + std::to_string(value) + " is not finite");
  if (!(u.seconds_per_unit > 0)) throw std::invalid_argument("time units with a non-positive unit length");
  if (!(std::fabs(value) * u.seconds_per_unit <= max_seconds))
    throw std::invalid_argument("time value " + std::to_string(value) + " " + u.unit +
                                " is more than 300 million years from the epoch");
  if (const std::int64_t per = whole_micros_per_unit(u)) {
    const double whole = std::floor(value);
    return Micros(whole) * per + std::llround((value - whole) * static_cast<double>(per));
  }
  return Micros(std::round(value * u.seconds_per_unit * 1e6));
}

double in_units(Micros us, const TimeUnits& u) {
  if (const std::int64_t per = whole_micros_per_unit(u)) {
    const Micros q = floor_div<Micros>(us, per);
    const Micros r = us - q * per;
    return static_cast<double>(q) + static_cast<double>(r) / static_cast<double>(per);
  }
  return static_cast<double>(us) / (u.seconds_per_unit * 1e6);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
std::string trim(const std::string& s) {
  const char* space = " \t\r\n\v\f";
  std::size_t b = s.find_first_not_of(space);
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

// A left-to-right reader over a date string.
struct Cursor {
  const std::string& s;
  std::size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  bool digit() const { return std::isdigit(static_cast<unsigned char>(peek())) != 0; }
  bool eat(char ch) {
    if (peek() != ch) return false;
    ++i;
    return true;
  }
  void skip_spaces() {
    while (peek() == ' ' || peek() == '\t') ++i;
  }
  // Reads up to max_n digits (at least one); returns the count, 0 when there is no digit.
  int number(int max_n, std::int64_t& v) {
    v = 0;
    int n = 0;
    while (n < max_n && digit()) {
      v = v * 10 + (s[i++] - '0');
      ++n;
    }
    return n;
  }
  // "." followed by digits -> microseconds; digits past the sixth are dropped (as cftime does),
  // so that .9999999 cannot carry into the next second.
  bool fraction_us(std::int64_t& us) {
    us = 0;
    if (!eat('.')) return true;
    if (!digit()) return false;
    std::int64_t scale = 100000;
    for (; digit(); ++i, scale /= 10) us += (s[i] - '0') * scale;
    return true;
  }
};

// A date and time as read, before checking it exists; `precision` counts the fields given
// (1 year .. 6 second, 7 with a fraction of a second).
struct Parsed {
  std::int64_t year = 1, month = 1, day = 1, hour = 0, minute = 0, second = 0, micros = 0;
  int precision = 0;
};

// [h]h[:[m]m[:[s]s[.f]]] at the cursor; false when malformed.
bool read_time(Cursor& in, Parsed& p) {
  if (!in.number(2, p.hour)) return false;
  p.precision = 4;
  if (!in.eat(':')) return true;
  if (!in.number(2, p.minute)) return false;
  p.precision = 5;
  if (!in.eat(':')) return true;
  if (!in.number(2, p.second)) return false;
  p.precision = 6;
  if (in.peek() == '.') {
    if (!in.fraction_us(p.micros)) return false;
    p.precision = 7;
  }
  return true;
}

DateTime checked(const Parsed& p, Calendar c, const std::string& context) {
  if (p.year < INT_MIN + 1 || p.year > INT_MAX - 1)
    throw std::invalid_argument(context + ": year " + std::to_string(p.year) + " is out of range");
  DateTime t;
  t.year = static_cast<int>(p.year);
  t.month = static_cast<int>(p.month);
  t.day = static_cast<int>(p.day);
  t.hour = static_cast<int>(p.hour);
  t.minute = static_cast<int>(p.minute);
  t.second = static_cast<double>(p.second * us_per_second + p.micros) / 1e6;
  std::string why = date_problem(t.year, t.month, t.day, c);
  if (why.empty()) why = time_problem(t.hour, t.minute, t.second);
  if (!why.empty()) throw std::invalid_argument(context + ": " + why);
  return t;
}

struct Unit {
  const char* canonical;
  double seconds;
  const char* names[8];  // accepted spellings (lower case), null-terminated
};
const Unit units_table[] = {
    {"microseconds", 1e-6, {"microseconds", "microsecond", "microsecs", "microsec", "usecs", "usec", "us"}},
    {"milliseconds", 1e-3, {"milliseconds", "millisecond", "millisecs", "millisec", "msecs", "msec", "ms"}},
    {"seconds", 1, {"seconds", "second", "secs", "sec", "s"}},
    {"minutes", 60, {"minutes", "minute", "mins", "min"}},
    {"hours", 3600, {"hours", "hour", "hrs", "hr", "h"}},
    {"days", 86400, {"days", "day", "d"}},
    {"common_years", 365 * 86400.0, {"common_years", "common_year"}},
    {"months", 30 * 86400.0, {"months", "month"}},
    {"years", 360 * 86400.0, {"years", "year"}},
};

}  // namespace

bool parse_calendar(const std::string& name, Calendar& out) {
  // Attributes sometimes carry padding or a C string's terminator.
  std::string n = name;
  while (!n.empty() && n.back() == '\0') n.pop_back();
  n = lower(trim(n));
  if (n.empty() || n == "standard" || n == "gregorian") out = Calendar::standard;
  else if (n == "proleptic_gregorian") out = Calendar::proleptic_gregorian;
  else if (n == "noleap" || n == "365_day") out = Calendar::noleap;
  else if (n == "all_leap" || n == "366_day") out = Calendar::all_leap;
  else if (n == "360_day") out = Calendar::day360;
  else if (n == "julian") out = Calendar::julian;
  else return false;
  return true;
}

std::string calendar_name(Calendar c) {
  switch (c) {
    case Calendar::standard: return "standard";
    case Calendar::proleptic_gregorian: return "proleptic_gregorian";
    case Calendar::noleap: return "noleap";
    case Calendar::all_leap: return "all_leap";
    case Calendar::day360: return "360_day";
    case Calendar::julian: return "julian";
  }
  return "?";
}

bool operator==(const DateTime& a, const DateTime& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour && a.minute == b.minute &&
         a.second == b.second;
}
bool operator!=(const DateTime& a, const DateTime& b) { return !(a == b); }
bool operator<(const DateTime& a, const DateTime& b) {
  if (a.year != b.year) return a.year < b.year;
  if (a.month != b.month) return a.month < b.month;
  if (a.day != b.day) return a.day < b.day;
  if (a.hour != b.hour) return a.hour < b.hour;
  if (a.minute != b.minute) return a.minute < b.minute;
  return a.second < b.second;
}
bool operator<=(const DateTime& a, const DateTime& b) { return !(b < a); }
bool operator>(const DateTime& a, const DateTime& b) { return b < a; }
bool operator>=(const DateTime& a, const DateTime& b) { return !(a < b); }

int days_in_month(int year, int month, Calendar c) {
  if (month < 1 || month > 12 || (year == 0 && !has_year_zero(c))) check_exists(year, month, 1, c);
  if (c == Calendar::standard && year == 1582 && month == 10) return 21;
  return last_day(year, month, c);
}

int days_in_year(int year, Calendar c) {
  if (year == 0 && !has_year_zero(c)) check_exists(year, 1, 1, c);
  switch (c) {
    case Calendar::day360: return 360;
    case Calendar::noleap: return 365;
    case Calendar::all_leap: return 366;
    case Calendar::standard:
      if (year == 1582) return 355;
      [[fallthrough]];
    default: return is_leap(year, c) ? 366 : 365;
  }
}

bool valid_date(const DateTime& d, Calendar c) {
  return date_exists(d.year, d.month, d.day, c) && d.hour >= 0 && d.hour <= 23 && d.minute >= 0 && d.minute <= 59 &&
         d.second >= 0 && d.second < 60;
}

int day_of_year(const DateTime& d, Calendar c) {
  return static_cast<int>(to_serial_day(d.year, d.month, d.day, c) - to_serial_day(d.year, 1, 1, c) + 1);
}

std::int64_t to_serial_day(int year, int month, int day, Calendar c) {
  check_exists(year, month, day, c);
  const std::int64_t y = astronomical(year, c);
  switch (c) {
    case Calendar::proleptic_gregorian: return gregorian_days(y, month, day) - gregorian_epoch;
    case Calendar::julian: return julian_days(y, month, day) - julian_epoch;
    case Calendar::standard:
      if (year > 1582 || (year == 1582 && (month > 10 || (month == 10 && day >= 15))))
        return gregorian_days(y, month, day) - gregorian_switch + standard_switch_serial;
      return julian_days(y, month, day) - julian_epoch;
    case Calendar::noleap: return 365 * (y - 1) + cumulative_noleap[month - 1] + day - 1;
    case Calendar::all_leap: return 366 * (y - 1) + cumulative_leap[month - 1] + day - 1;
    case Calendar::day360: return 360 * (y - 1) + 30 * (month - 1) + day - 1;
  }
  return 0;
}

void from_serial_day(std::int64_t serial, Calendar c, int& year, int& month, int& day) {
  std::int64_t y = 0;
  switch (c) {
    case Calendar::proleptic_gregorian: gregorian_civil(serial + gregorian_epoch, y, month, day); break;
    case Calendar::julian: julian_civil(serial + julian_epoch, y, month, day); break;
    case Calendar::standard:
      if (serial >= standard_switch_serial)
        gregorian_civil(serial - standard_switch_serial + gregorian_switch, y, month, day);
      else
        julian_civil(serial + julian_epoch, y, month, day);
      break;
    case Calendar::noleap:
    case Calendar::all_leap: {
      const int len = c == Calendar::noleap ? 365 : 366;
      const int* cumulative = c == Calendar::noleap ? cumulative_noleap : cumulative_leap;
      const std::int64_t q = floor_div<std::int64_t>(serial, len);
      const int doy = static_cast<int>(serial - q * len);
      y = q + 1;
      month = 1;
      while (doy >= cumulative[month]) ++month;
      day = doy - cumulative[month - 1] + 1;
      break;
    }
    case Calendar::day360: {
      const std::int64_t q = floor_div<std::int64_t>(serial, 360);
      const int doy = static_cast<int>(serial - q * 360);
      y = q + 1;
      month = doy / 30 + 1;
      day = doy % 30 + 1;
      break;
    }
  }
  year = from_astronomical(y, c);
}

TimeUnits parse_time_units(const std::string& units, const std::string& calendar_attr) {
  TimeUnits u;
  u.text = units;
  if (!parse_calendar(calendar_attr, u.calendar))
    throw std::invalid_argument("unknown calendar '" + calendar_attr +
                                "'; expected standard, gregorian, proleptic_gregorian, noleap, 365_day, all_leap, "
                                "366_day, 360_day or julian");
  const std::string example = "e.g. 'days since 1850-01-01' or 'hours since 1850-01-01 00:00:00'";
  const std::string text = trim(units);
  if (text.empty()) throw std::invalid_argument("time units are empty; expected '<unit> since <date>', " + example);
  const std::string context = "time units '" + units + "'";

  // "<unit> since <rest>", words separated by any run of blanks.
  const std::size_t unit_end = text.find_first_of(" \t");
  const std::size_t since_begin = unit_end == std::string::npos ? unit_end : text.find_first_not_of(" \t", unit_end);
  const std::size_t since_end = since_begin == std::string::npos ? since_begin : text.find_first_of(" \t", since_begin);
  const std::string since = since_begin == std::string::npos ? "" : lower(text.substr(since_begin, since_end - since_begin));
  if (since != "since")
    throw std::invalid_argument(context + " are not of the form '<unit> since <date>'; " + example);
  const std::string rest = since_end == std::string::npos ? "" : trim(text.substr(since_end));
  if (rest.empty()) throw std::invalid_argument(context + " have no reference date after 'since'; " + example);

  const std::string word = lower(text.substr(0, unit_end));
  const Unit* unit = nullptr;
  for (const Unit& candidate : units_table)
    for (const char* const* alias = candidate.names; *alias; ++alias)
      if (word == *alias) unit = &candidate;
  if (!unit)
    throw std::invalid_argument(context + ": unknown time unit '" + text.substr(0, unit_end) +
                                "'; expected seconds, minutes, hours or days (or milliseconds, microseconds), " +
                                example);
  u.unit = unit->canonical;
  u.seconds_per_unit = unit->seconds;
  const std::string cal = calendar_name(u.calendar);
  if ((u.unit == "months" || u.unit == "years") && u.calendar != Calendar::day360)
    throw std::invalid_argument(
        context + ": '" + u.unit + "' have no fixed length in the " + cal +
        " calendar and CF discourages them (udunits would take a " + (u.unit == "months" ? "month as 30.436875" : "year as 365.242198781") +
        " days); use days, or they are accepted with calendar 360_day (month = 30 days, year = 360 days)");
  if (u.unit == "common_years" && u.calendar != Calendar::noleap)
    throw std::invalid_argument(context + ": 'common_years' (365 days) are only accepted with calendar noleap (365_day), not " +
                                cal + "; use days");

  // The reference date: [+-]Y-M-D[( |T)h[:m[:s[.f]]]][ ][zone].
  const std::string malformed = context + ": malformed reference date '" + rest +
                                "'; expected YYYY-MM-DD[ hh:mm:ss][ UTC], e.g. 'days since 1850-01-01 00:00:00'";
  Cursor in{rest};
  Parsed p;
  const bool negative = in.eat('-');
  if (!negative) in.eat('+');
  if (!in.number(12, p.year) || in.digit() || !in.eat('-') || !in.number(2, p.month) || !in.eat('-') ||
      !in.number(2, p.day))
    throw std::invalid_argument(malformed);
  if (negative) p.year = -p.year;
  if (in.digit()) throw std::invalid_argument(malformed);
  // The time follows a 'T' or blanks; a zone may follow directly ("...00Z", "...00-06:00").
  if ((in.peek() == 'T' || in.peek() == 't') && in.i + 1 < rest.size() &&
      std::isdigit(static_cast<unsigned char>(rest[in.i + 1])))
    ++in.i;
  else
    in.skip_spaces();
  if (in.digit() && (!read_time(in, p) || in.digit())) throw std::invalid_argument(malformed);

  // Zone: Z, UTC, GMT, or an offset from UTC that is applied.
  std::int64_t zone_us = 0;
  in.skip_spaces();
  if (!in.done()) {
    const std::string zone = rest.substr(in.i);
    const std::string bad_zone = context + ": unrecognised time zone '" + zone +
                                 "'; expected Z, UTC or an offset like +05:30 (or nothing, meaning UTC)";
    const std::string z = lower(zone);
    if (z == "z" || z == "utc" || z == "gmt") {
      in.i = rest.size();
    } else if (in.peek() == '+' || in.peek() == '-') {
      const int sign = in.peek() == '-' ? -1 : 1;
      ++in.i;
      std::int64_t hh = 0, mm = 0, v = 0;
      const int n = in.number(4, v);
      if (n == 1 || n == 2) {
        hh = v;
        if (in.eat(':') && in.number(2, mm) != 2) throw std::invalid_argument(bad_zone);
      } else if (n == 3 || n == 4) {
        hh = v / 100;
        mm = v % 100;
      } else {
        throw std::invalid_argument(bad_zone);
      }
      in.skip_spaces();
      if (!in.done() || hh > 23 || mm > 59) throw std::invalid_argument(bad_zone);
      zone_us = sign * (hh * us_per_hour + mm * us_per_minute);
    } else {
      throw std::invalid_argument(bad_zone);
    }
  }
  u.epoch = checked(p, u.calendar, context + ": reference date");
  // Local time = UTC + offset, so the epoch in UTC is the local time minus the offset.
  if (zone_us != 0) u.epoch = datetime_of(instant_of(u.epoch, u.calendar) - zone_us, u.calendar);
  return u;
}

DateTime to_datetime(double value, const TimeUnits& u) {
  return datetime_of(instant_of(u.epoch, u.calendar) + offset_us(value, u), u.calendar);
}

double from_datetime(const DateTime& d, const TimeUnits& u) {
  return in_units(instant_of(d, u.calendar) - instant_of(u.epoch, u.calendar), u);
}

double convert(double value, const TimeUnits& from, const TimeUnits& to) {
  if (from.calendar != to.calendar)
    throw std::invalid_argument("cannot convert times between calendars " + calendar_name(from.calendar) + " ('" +
                                from.text + "') and " + calendar_name(to.calendar) + " ('" + to.text + "')");
  const Micros shift = instant_of(from.epoch, from.calendar) - instant_of(to.epoch, to.calendar);
  return in_units(offset_us(value, from) + shift, to);
}

DateTime parse_iso_date(const std::string& s, Calendar c, bool end_of_period) {
  const std::string text = trim(s);
  const std::string malformed = "malformed date '" + s +
                                "'; expected YYYY[-MM[-DD[Thh[:mm[:ss]]]]], e.g. 1991, 1991-01, 1991-01-01 or "
                                "1991-01-01T12:30";
  Cursor in{text};
  Parsed p;
  const bool negative = in.eat('-');
  const bool sign = negative || in.eat('+');
  // Unsigned years have at most 5 digits so that a basic-format 19910101 is not read as a year.
  const int n = in.number(sign ? 12 : 5, p.year);
  if (n == 0 || in.digit()) throw std::invalid_argument(malformed);
  if (negative) p.year = -p.year;
  p.precision = 1;
  if (in.eat('-')) {
    if (!in.number(2, p.month)) throw std::invalid_argument(malformed);
    p.precision = 2;
    if (in.eat('-')) {
      if (!in.number(2, p.day)) throw std::invalid_argument(malformed);
      p.precision = 3;
      if (in.eat('T') || in.eat('t') || in.eat(' ')) {
        if (!read_time(in, p)) throw std::invalid_argument(malformed);
      }
    }
  }
  if (p.precision >= 4) in.eat('Z');
  if (!in.done()) throw std::invalid_argument(malformed);
  const DateTime start = checked(p, c, "date '" + s + "'");
  if (!end_of_period || p.precision == 7) return start;

  // The last microsecond of the period the date names.
  Micros next = 0;
  switch (p.precision) {
    case 1: next = instant_of(next_period_start(start, Period::year, c), c); break;
    case 2: next = instant_of(next_period_start(start, Period::month, c), c); break;
    case 3: next = instant_of(start, c) + us_per_day; break;
    case 4: next = instant_of(start, c) + us_per_hour; break;
    case 5: next = instant_of(start, c) + us_per_minute; break;
    default: next = instant_of(start, c) + us_per_second; break;
  }
  return datetime_of(next - 1, c);
}

std::string format_iso(const DateTime& d) {
  std::int64_t us = std::llround(d.second * 1e6);
  if (us < 0) us = 0;
  if (us >= us_per_minute) us = us_per_minute - 1;  // never print second 60
  std::string out = ymd(d.year, d.month, d.day);
  if (d.hour == 0 && d.minute == 0 && us == 0) return out;
  out += "T" + two(d.hour) + ":" + two(d.minute) + ":" + two(static_cast<int>(us / us_per_second));
  if (const std::int64_t frac = us % us_per_second) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out;
}

int season_of_month(int month) {
  if (month < 1 || month > 12) throw std::invalid_argument("month " + std::to_string(month) + " is not in 1..12");
  return (month % 12) / 3;
}

namespace {
int previous_year(int y, Calendar c) { return (y == 1 && !has_year_zero(c)) ? -1 : y - 1; }
int following_year(int y, Calendar c) { return (y == -1 && !has_year_zero(c)) ? 1 : y + 1; }
}  // namespace

DateTime period_start(const DateTime& d, Period p, Calendar c) {
  DateTime s;
  s.year = d.year;
  s.month = d.month;
  switch (p) {
    case Period::hour: s.hour = d.hour; [[fallthrough]];
    case Period::day: s.day = d.day; break;
    case Period::month: break;
    case Period::season: {
      static constexpr int first_month[4] = {12, 3, 6, 9};
      s.month = first_month[season_of_month(d.month)];
      if (d.month <= 2) s.year = previous_year(d.year, c);
      break;
    }
    case Period::year: s.month = 1; break;
  }
  return s;
}

DateTime next_period_start(const DateTime& start, Period p, Calendar c) {
  DateTime s = period_start(start, p, c);
  switch (p) {
    case Period::hour: return datetime_of(instant_of(s, c) + us_per_hour, c);
    case Period::day: return datetime_of(instant_of(s, c) + us_per_day, c);
    case Period::month:
    case Period::season: {
      s.month += p == Period::month ? 1 : 3;
      if (s.month > 12) {
        s.month -= 12;
        s.year = following_year(s.year, c);
      }
      return s;
    }
    case Period::year: s.year = following_year(s.year, c); return s;
  }
  return s;
}

}  // namespace tessera::cf
