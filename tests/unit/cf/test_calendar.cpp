// CF calendars and time units. Reference values come from cftime (calendar_cases.txt, written
// by make_calendar_cases.py); the rest are hand-checked cases and internal consistency sweeps.
#include "cf/calendar.hpp"

#include <gtest/gtest.h>

#include "../thrown.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace tessera::cf {

// Readable failure messages (found by argument-dependent lookup, so outside the anonymous namespace).
void PrintTo(const DateTime& d, std::ostream* os) { *os << format_iso(d); }

namespace {

const Calendar all_calendars[] = {Calendar::standard, Calendar::proleptic_gregorian, Calendar::noleap,
                                  Calendar::all_leap, Calendar::day360,  Calendar::julian};

DateTime dt(int y, int mo, int d, int h = 0, int mi = 0, double s = 0) {
  DateTime t;
  t.year = y;
  t.month = mo;
  t.day = d;
  t.hour = h;
  t.minute = mi;
  t.second = s;
  return t;
}

Calendar cal(const std::string& name) {
  Calendar c{};
  EXPECT_TRUE(parse_calendar(name, c)) << name;
  return c;
}

// The std::invalid_argument message of f() (fails the test if none is thrown).
std::string error_of(const std::function<void()>& f) { return testing::message_of<std::invalid_argument>(f); }
#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

std::int64_t micros_of_second(const DateTime& d) { return std::llround(d.second * 1e6); }

// ---------------------------------------------------------------------------------------------
// cftime reference table

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (std::getline(ss, f, ';')) out.push_back(f);
  return out;
}

std::vector<std::vector<std::string>> cases(char kind) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "calendar_cases.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<std::vector<std::string>> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == kind) out.push_back(split(line));
  return out;
}

int num(const std::string& s) { return std::stoi(s); }
double real(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

// A few ulps of the larger magnitude: the table and the library divide in different orders.
double ulps(double a, double b) { return 4 * std::numeric_limits<double>::epsilon() * std::max({std::fabs(a), std::fabs(b), 1e-300}); }

TEST(CalendarOracle, ValuesToDates) {
  const auto rows = cases('T');
  ASSERT_GT(rows.size(), 1800u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 11u);
    const TimeUnits u = parse_time_units(r[2], r[1]);
    const double value = real(r[3]);
    const std::string where = r[1] + " " + std::to_string(value) + " " + r[2];
    const DateTime d = to_datetime(value, u);
    EXPECT_EQ(d.year, num(r[4])) << where;
    EXPECT_EQ(d.month, num(r[5])) << where;
    EXPECT_EQ(d.day, num(r[6])) << where;
    EXPECT_EQ(d.hour, num(r[7])) << where;
    EXPECT_EQ(d.minute, num(r[8])) << where;
    EXPECT_EQ(micros_of_second(d), num(r[9]) * 1000000LL + num(r[10])) << where;
    EXPECT_TRUE(valid_date(d, u.calendar)) << where;
    // And back: exact for whole values; otherwise within the microsecond the date was rounded to.
    const double back = from_datetime(d, u);
    if (value == std::floor(value))
      EXPECT_EQ(back, value) << where;
    else
      EXPECT_LE(std::fabs(back - value), 0.5e-6 / u.seconds_per_unit + ulps(back, value)) << where;
  }
}

TEST(CalendarOracle, DatesToValues) {
  const auto rows = cases('N');
  ASSERT_GT(rows.size(), 150u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 11u);
    const TimeUnits u = parse_time_units(r[2], r[1]);
    const DateTime d = dt(num(r[3]), num(r[4]), num(r[5]), num(r[6]), num(r[7]), num(r[8]) + num(r[9]) / 1e6);
    const double expected = real(r[10]);
    const double v = from_datetime(d, u);
    EXPECT_NEAR(v, expected, ulps(v, expected)) << r[1] << " " << format_iso(d) << " in " << r[2];
    // Back to the date: exact when the value can hold the microseconds (not, say, 5000 years of
    // days, whose ulp is 30 us).
    const double seconds_back = convert(v, u, parse_time_units("seconds since " + format_iso(d), r[1]));
    EXPECT_LE(std::fabs(seconds_back), 0.5e-6 + std::fabs(v) * u.seconds_per_unit * 1.2e-16) << r[1] << " " << format_iso(d);
    if (std::fabs(v) * u.seconds_per_unit < 1e8) {
      EXPECT_EQ(to_datetime(v, u), d) << r[1] << " " << format_iso(d) << " in " << r[2];
    }
  }
}

TEST(CalendarOracle, SerialDaysDayOfYearAndMonthLengths) {
  const auto rows = cases('S');
  ASSERT_GT(rows.size(), 400u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 8u);
    const Calendar c = cal(r[1]);
    const int y = num(r[2]), m = num(r[3]), d = num(r[4]);
    const std::string where = r[1] + " " + format_iso(dt(y, m, d));
    EXPECT_EQ(to_serial_day(y, m, d, c), std::stoll(r[5])) << where;
    int y2 = 0, m2 = 0, d2 = 0;
    from_serial_day(std::stoll(r[5]), c, y2, m2, d2);
    EXPECT_EQ(dt(y2, m2, d2), dt(y, m, d)) << where;
    EXPECT_EQ(day_of_year(dt(y, m, d), c), num(r[6])) << where;
    EXPECT_EQ(days_in_month(y, m, c), num(r[7])) << where;
  }
}

TEST(CalendarOracle, Validity) {
  const auto rows = cases('V');
  ASSERT_GT(rows.size(), 100u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 6u);
    EXPECT_EQ(valid_date(dt(num(r[2]), num(r[3]), num(r[4])), cal(r[1])), r[5] == "1")
        << r[1] << " " << r[2] << "-" << r[3] << "-" << r[4];
  }
}

TEST(CalendarOracle, Conversions) {
  const auto rows = cases('C');
  ASSERT_GT(rows.size(), 100u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 6u);
    const TimeUnits from = parse_time_units(r[2], r[1]);
    const TimeUnits to = parse_time_units(r[3], r[1]);
    const double expected = real(r[5]);
    const double v = convert(real(r[4]), from, to);
    EXPECT_NEAR(v, expected, ulps(v, expected)) << r[1] << " " << r[4] << " " << r[2] << " -> " << r[3];
  }
}

// ---------------------------------------------------------------------------------------------
// Calendars

TEST(Calendar, NamesAndAliases) {
  const std::pair<const char*, Calendar> names[] = {
      {"standard", Calendar::standard},       {"gregorian", Calendar::standard},
      {"", Calendar::standard},               {"Gregorian", Calendar::standard},
      {" standard ", Calendar::standard},     {"proleptic_gregorian", Calendar::proleptic_gregorian},
      {"noleap", Calendar::noleap},           {"365_day", Calendar::noleap},
      {"NOLEAP", Calendar::noleap},           {"all_leap", Calendar::all_leap},
      {"366_day", Calendar::all_leap},        {"360_day", Calendar::day360},
      {"julian", Calendar::julian},
  };
  for (const auto& [name, expected] : names) {
    Calendar c = Calendar::julian;
    EXPECT_TRUE(parse_calendar(name, c)) << name;
    EXPECT_EQ(c, expected) << name;
  }
  Calendar padded = Calendar::standard;
  EXPECT_TRUE(parse_calendar(std::string("360_day\0", 8), padded));  // a C string's terminator kept
  EXPECT_EQ(padded, Calendar::day360);
  for (const char* bad : {"none", "360day", "gregorian_proleptic", "utc", "365"}) {
    Calendar c = Calendar::standard;
    EXPECT_FALSE(parse_calendar(bad, c)) << bad;
  }
  for (Calendar c : all_calendars) {
    Calendar back{};
    ASSERT_TRUE(parse_calendar(calendar_name(c), back));
    EXPECT_EQ(back, c);
  }
  EXPECT_EQ(calendar_name(Calendar::day360), "360_day");
  EXPECT_EQ(calendar_name(Calendar::noleap), "noleap");
  EXPECT_EQ(calendar_name(Calendar::standard), "standard");
}

TEST(Calendar, MonthAndYearLengths) {
  EXPECT_EQ(days_in_year(1582, Calendar::standard), 355);
  EXPECT_EQ(days_in_month(1582, 10, Calendar::standard), 21);
  EXPECT_EQ(days_in_month(1582, 10, Calendar::proleptic_gregorian), 31);
  EXPECT_EQ(days_in_year(1500, Calendar::standard), 366);  // Julian rule before the switch
  EXPECT_EQ(days_in_year(1500, Calendar::proleptic_gregorian), 365);
  EXPECT_EQ(days_in_year(1700, Calendar::standard), 365);
  EXPECT_EQ(days_in_year(1900, Calendar::julian), 366);
  EXPECT_EQ(days_in_year(2000, Calendar::proleptic_gregorian), 366);
  EXPECT_EQ(days_in_year(-1, Calendar::standard), 366);  // 1 BC, astronomical year 0
  EXPECT_EQ(days_in_year(0, Calendar::proleptic_gregorian), 366);
  EXPECT_EQ(days_in_year(2000, Calendar::noleap), 365);
  EXPECT_EQ(days_in_year(2001, Calendar::all_leap), 366);
  EXPECT_EQ(days_in_year(2001, Calendar::day360), 360);
  EXPECT_EQ(days_in_month(2001, 2, Calendar::day360), 30);
  EXPECT_EQ(days_in_month(2001, 2, Calendar::all_leap), 29);
  EXPECT_EQ(days_in_month(2000, 2, Calendar::noleap), 28);
  EXPECT_HAS(error_of([] { days_in_month(2000, 13, Calendar::standard); }), "month 13");
  EXPECT_HAS(error_of([] { days_in_year(0, Calendar::julian); }), "year 0 does not exist in the julian calendar");
  for (Calendar c : all_calendars)
    for (int y : {-4001, -1, 1, 4, 1582, 1600, 1900, 2000, 2023, 2024, 9999}) {
      int sum = 0;
      for (int m = 1; m <= 12; ++m) sum += days_in_month(y, m, c);
      EXPECT_EQ(sum, days_in_year(y, c)) << calendar_name(c) << " " << y;
    }
}

TEST(Calendar, ValidDates) {
  EXPECT_TRUE(valid_date(dt(1582, 10, 4), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(1582, 10, 5), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(1582, 10, 14), Calendar::standard));
  EXPECT_TRUE(valid_date(dt(1582, 10, 15), Calendar::standard));
  EXPECT_TRUE(valid_date(dt(1582, 10, 31), Calendar::standard));
  EXPECT_TRUE(valid_date(dt(1582, 10, 10), Calendar::julian));
  EXPECT_TRUE(valid_date(dt(1582, 10, 10), Calendar::proleptic_gregorian));
  EXPECT_FALSE(valid_date(dt(0, 6, 1), Calendar::standard));
  EXPECT_TRUE(valid_date(dt(0, 6, 1), Calendar::noleap));
  EXPECT_TRUE(valid_date(dt(2001, 2, 30), Calendar::day360));
  EXPECT_FALSE(valid_date(dt(2001, 2, 31), Calendar::day360));
  EXPECT_FALSE(valid_date(dt(2001, 1, 31), Calendar::day360));
  EXPECT_FALSE(valid_date(dt(2001, 1, 1, 24), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(2001, 1, 1, 0, 60), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(2001, 1, 1, 0, 0, 60), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(2001, 1, 1, 0, 0, std::nan("")), Calendar::standard));
  EXPECT_TRUE(valid_date(dt(2001, 1, 1, 23, 59, 59.999999), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(2001, 0, 1), Calendar::standard));
  EXPECT_FALSE(valid_date(dt(2001, 1, 0), Calendar::standard));
  EXPECT_HAS(error_of([] { to_serial_day(1582, 10, 10, Calendar::standard); }), "1582-10-04 is followed by 1582-10-15");
  EXPECT_HAS(error_of([] { to_serial_day(2001, 2, 29, Calendar::standard); }), "2001-02 has days 1..28");
}

TEST(Calendar, DayOfYear) {
  EXPECT_EQ(day_of_year(dt(1582, 10, 4), Calendar::standard), 277);
  EXPECT_EQ(day_of_year(dt(1582, 10, 15), Calendar::standard), 278);
  EXPECT_EQ(day_of_year(dt(1582, 12, 31), Calendar::standard), 355);
  EXPECT_EQ(day_of_year(dt(1582, 10, 15), Calendar::proleptic_gregorian), 288);
  EXPECT_EQ(day_of_year(dt(2001, 12, 30), Calendar::day360), 360);
  EXPECT_EQ(day_of_year(dt(2001, 3, 1), Calendar::all_leap), 61);
  EXPECT_EQ(day_of_year(dt(2000, 3, 1), Calendar::noleap), 60);
}

TEST(Calendar, KnownSerialDays) {
  EXPECT_EQ(to_serial_day(1, 1, 1, Calendar::standard), 0);
  EXPECT_EQ(to_serial_day(-1, 12, 31, Calendar::standard), -1);
  EXPECT_EQ(to_serial_day(0, 12, 31, Calendar::proleptic_gregorian), -1);
  EXPECT_EQ(to_serial_day(1582, 10, 15, Calendar::standard) - to_serial_day(1582, 10, 4, Calendar::standard), 1);
  // 1970-01-01 is Julian Day 2440588; 0001-01-01 (Julian) is JD 1721424, (Gregorian) JD 1721426.
  EXPECT_EQ(to_serial_day(1970, 1, 1, Calendar::standard), 2440588 - 1721424);
  EXPECT_EQ(to_serial_day(1970, 1, 1, Calendar::proleptic_gregorian), 2440588 - 1721426);
  EXPECT_EQ(to_serial_day(1970, 1, 1, Calendar::julian), 2440588 + 13 - 1721424);
  EXPECT_EQ(to_serial_day(2001, 1, 1, Calendar::day360), 2000 * 360);
  EXPECT_EQ(to_serial_day(0, 1, 1, Calendar::noleap), -365);
}

// Day by day over 13,000 years: serial days are consecutive, round trip, and agree with the
// month lengths, day of year and next_period_start.
TEST(Calendar, DayByDaySweep) {
  for (Calendar c : all_calendars) {
    const int first = -3000;
    std::int64_t serial = to_serial_day(first, 1, 1, c);
    for (int y = first; y <= 10000; ++y) {
      if (y == 0 && (c == Calendar::standard || c == Calendar::julian)) continue;
      int doy = 0;
      for (int m = 1; m <= 12; ++m) {
        for (int d = 1; d <= 31; ++d) {
          if (!valid_date(dt(y, m, d), c)) continue;
          ++doy;
          ASSERT_EQ(to_serial_day(y, m, d, c), serial) << calendar_name(c) << " " << format_iso(dt(y, m, d));
          int y2, m2, d2;
          from_serial_day(serial, c, y2, m2, d2);
          ASSERT_EQ(dt(y2, m2, d2), dt(y, m, d)) << calendar_name(c) << " " << serial;
          if (d <= 3 || d >= 27 || (y == 1582 && m == 10)) {
            ASSERT_EQ(day_of_year(dt(y, m, d), c), doy) << calendar_name(c) << " " << format_iso(dt(y, m, d));
          }
          ++serial;
        }
      }
      ASSERT_EQ(doy, days_in_year(y, c)) << calendar_name(c) << " " << y;
    }
  }
  EXPECT_EQ(next_period_start(dt(1582, 10, 4), Period::day, Calendar::standard), dt(1582, 10, 15));
  EXPECT_EQ(next_period_start(dt(1582, 10, 4), Period::day, Calendar::julian), dt(1582, 10, 5));
  EXPECT_EQ(next_period_start(dt(-1, 12, 31), Period::day, Calendar::standard), dt(1, 1, 1));
  EXPECT_EQ(next_period_start(dt(-1, 12, 31), Period::day, Calendar::proleptic_gregorian), dt(0, 1, 1));
}

// ---------------------------------------------------------------------------------------------
// Time units

TEST(TimeUnits, AcceptedForms) {
  const DateTime e1850 = dt(1850, 1, 1);
  for (const char* text : {"days since 1850-01-01", "days since 1850-1-1", "days since 1850-01-01 00:00:00",
                           "days since 1850-01-01T00:00:00Z", "days since 1850-01-01 00:00:00.0",
                           "days since 1850-01-01 0:0:0", "days since 1850-01-01 00:00:00 UTC",
                           "days since 1850-01-01 00:00:00 +00:00", "days since 1850-01-01T00:00:00+00:00",
                           "days since 1850-01-01 00:00", "days since 1850-01-01 00", "days since 1850-01-01 utc",
                           "days since 1850-01-01 Z", "days since 1850-01-01 00:00:00 GMT", "  days  since  1850-01-01  ",
                           "Days Since 1850-01-01", "days since +1850-01-01", "days since 1850-01-01 00:00:00 -0000"}) {
    const TimeUnits u = parse_time_units(text, "standard");
    EXPECT_EQ(u.epoch, e1850) << text;
    EXPECT_EQ(u.unit, "days") << text;
    EXPECT_EQ(u.seconds_per_unit, 86400) << text;
    EXPECT_EQ(u.text, text);
  }
  const std::pair<const char*, double> units[] = {
      {"seconds", 1},  {"second", 1},     {"secs", 1},     {"sec", 1},     {"s", 1},        {"minutes", 60},
      {"minute", 60},  {"mins", 60},      {"min", 60},     {"hours", 3600}, {"hour", 3600},  {"hrs", 3600},
      {"hr", 3600},    {"h", 3600},       {"days", 86400}, {"day", 86400},  {"d", 86400},    {"HOURS", 3600},
      {"milliseconds", 1e-3}, {"ms", 1e-3}, {"microseconds", 1e-6}, {"us", 1e-6}};
  for (const auto& [name, seconds] : units) {
    const TimeUnits u = parse_time_units(std::string(name) + " since 2000-01-01", "");
    EXPECT_EQ(u.seconds_per_unit, seconds) << name;
  }
  EXPECT_EQ(parse_time_units("s since 2000-01-01", "").unit, "seconds");
  EXPECT_EQ(parse_time_units("hrs since 2000-01-01", "").unit, "hours");

  const TimeUnits cy = parse_time_units("common_years since 0000-01-01", "365_day");
  EXPECT_EQ(cy.seconds_per_unit, 365 * 86400.0);
  EXPECT_EQ(cy.unit, "common_years");
  EXPECT_EQ(to_datetime(2.5, cy), dt(2, 7, 2, 12));  // day 182.5 of a noleap year
  const TimeUnits months = parse_time_units("months since 2001-01-01", "360_day");
  EXPECT_EQ(months.seconds_per_unit, 30 * 86400.0);
  EXPECT_EQ(to_datetime(13, months), dt(2002, 2, 1));
  const TimeUnits years = parse_time_units("years since 2001-01-01", "360_day");
  EXPECT_EQ(to_datetime(1.5, years), dt(2002, 7, 1));

  // Epochs with times, fractions and calendar-specific dates.
  EXPECT_EQ(parse_time_units("hours since 2001-02-30 06:30:15.25", "360_day").epoch, dt(2001, 2, 30, 6, 30, 15.25));
  EXPECT_EQ(parse_time_units("days since -1000-03-01", "standard").epoch, dt(-1000, 3, 1));
  EXPECT_EQ(parse_time_units("days since 0000-01-01", "noleap").epoch, dt(0, 1, 1));
  EXPECT_EQ(parse_time_units("days since 2000-01-01 00:00:59.99999999", "").epoch, dt(2000, 1, 1, 0, 0, 59.999999));
  EXPECT_EQ(parse_time_units("microsecs since 2000-01-01", "").unit, "microseconds");
  EXPECT_EQ(parse_time_units("millisec since 2000-01-01", "").unit, "milliseconds");
  EXPECT_EQ(parse_time_units("days since 1582-10-04", "standard").calendar, Calendar::standard);
  EXPECT_EQ(parse_time_units("days since 2000-01-01", "proleptic_gregorian").calendar, Calendar::proleptic_gregorian);
}

TEST(TimeUnits, TimeZoneOffsetsAreApplied) {
  // Local time = UTC + offset; cftime: 10 hours since 2000-01-01 00:00:00 +05:30 = 04:30 UTC.
  const TimeUnits ist = parse_time_units("hours since 2000-01-01 00:00:00 +05:30", "standard");
  EXPECT_EQ(ist.epoch, dt(1999, 12, 31, 18, 30));
  EXPECT_EQ(to_datetime(10, ist), dt(2000, 1, 1, 4, 30));
  EXPECT_EQ(parse_time_units("hours since 2000-01-01T00:00:00-06:00", "standard").epoch, dt(2000, 1, 1, 6));
  EXPECT_EQ(parse_time_units("hours since 2000-01-01 00:00 -0600", "standard").epoch, dt(2000, 1, 1, 6));
  EXPECT_EQ(parse_time_units("hours since 2000-03-01 +1", "noleap").epoch, dt(2000, 2, 28, 23));
  EXPECT_EQ(parse_time_units("hours since 1582-10-15 00:00 +01:00", "standard").epoch, dt(1582, 10, 4, 23));
}

TEST(TimeUnits, ErrorMessages) {
  auto err = [](const std::string& units, const std::string& calendar = "standard") {
    return error_of([&] { parse_time_units(units, calendar); });
  };
  EXPECT_HAS(err(""), "time units are empty; expected '<unit> since <date>', e.g. 'days since 1850-01-01'");
  EXPECT_HAS(err("K"), "time units 'K' are not of the form '<unit> since <date>'");
  EXPECT_HAS(err("days after 1850-01-01"), "are not of the form '<unit> since <date>'");
  EXPECT_HAS(err("days since"), "have no reference date after 'since'");
  EXPECT_HAS(err("days since   "), "have no reference date after 'since'");
  EXPECT_HAS(err("fortnights since 1850-01-01"), "unknown time unit 'fortnights'; expected seconds, minutes, hours or days");
  EXPECT_HAS(err("months since 1850-01-01"), "'months' have no fixed length in the standard calendar and CF discourages them");
  EXPECT_HAS(err("months since 1850-01-01"), "accepted with calendar 360_day");
  EXPECT_HAS(err("years since 1850-01-01", "noleap"), "'years' have no fixed length in the noleap calendar");
  EXPECT_HAS(err("common_years since 1850-01-01"), "'common_years' (365 days) are only accepted with calendar noleap");
  EXPECT_HAS(err("common_years since 1850-01-01", "360_day"), "not 360_day");
  EXPECT_HAS(err("days since 1850/01/01"), "malformed reference date '1850/01/01'; expected YYYY-MM-DD[ hh:mm:ss][ UTC]");
  EXPECT_HAS(err("days since 1850-01"), "malformed reference date '1850-01'");
  EXPECT_HAS(err("days since 1850-01-011"), "malformed reference date");
  EXPECT_HAS(err("days since 1850-01-01 12:"), "malformed reference date");
  EXPECT_HAS(err("days since 1850-01-01T"), "unrecognised time zone 'T'");
  EXPECT_HAS(err("days since 2001-02-29"), "time units 'days since 2001-02-29': reference date: 2001-02-29 does not exist in the standard calendar");
  EXPECT_EQ(parse_time_units("days since 2001-02-29", "360_day").epoch, dt(2001, 2, 29));
  EXPECT_HAS(err("days since 1582-10-10"), "1582-10-04 is followed by 1582-10-15");
  EXPECT_HAS(err("days since 0000-01-01"), "year 0 does not exist in the standard calendar (year -1 precedes year 1)");
  EXPECT_HAS(err("days since 1850-13-01"), "month 13 is not in 1..12");
  EXPECT_HAS(err("days since 1850-01-01 25:00:00"), "hour 25 is not in 0..23");
  EXPECT_HAS(err("days since 1850-01-01 00:61:00"), "minute 61 is not in 0..59");
  EXPECT_HAS(err("days since 1850-01-01 00:00:60"), "second 60");
  EXPECT_HAS(err("days since 1850-01-01 00:00:00 EST"), "unrecognised time zone 'EST'; expected Z, UTC or an offset like +05:30");
  EXPECT_HAS(err("days since 1850-01-01 00:00:00 +25:00"), "unrecognised time zone '+25:00'");
  EXPECT_HAS(err("days since 1850-01-01 00:00:00 +05:3"), "unrecognised time zone");
  EXPECT_HAS(err("days since 1850-01-01", "none"), "unknown calendar 'none'; expected standard, gregorian");
}

// ---------------------------------------------------------------------------------------------
// Values <-> dates

TEST(TimeValues, RoundingToTheMicrosecond) {
  const TimeUnits days = parse_time_units("days since 2000-01-01", "standard");
  EXPECT_EQ(to_datetime(0.5, days), dt(2000, 1, 1, 12));
  EXPECT_EQ(to_datetime(0.999999999, days), dt(2000, 1, 1, 23, 59, 59.999914));  // as cftime
  EXPECT_EQ(to_datetime(0.99999999999, days), dt(2000, 1, 1, 23, 59, 59.999999));  // 0.86 us before midnight
  EXPECT_EQ(to_datetime(0.999999999999, days), dt(2000, 1, 2));                      // 0.09 us before
  EXPECT_EQ(to_datetime(1.0 / 3 + 2.0 / 3, days), dt(2000, 1, 2));
  EXPECT_EQ(to_datetime(-0.25, days), dt(1999, 12, 31, 18));
  EXPECT_EQ(to_datetime(0.1 + 0.2, days), dt(2000, 1, 1, 7, 12));  // 0.30000000000000004 d
  const TimeUnits hours = parse_time_units("hours since 1850-01-01", "noleap");
  EXPECT_EQ(to_datetime(1.0 / 3, hours), dt(1850, 1, 1, 0, 20));
  EXPECT_EQ(to_datetime(float(0.1f), parse_time_units("seconds since 1970-01-01", "")), dt(1970, 1, 1, 0, 0, 0.1));
  EXPECT_EQ(from_datetime(dt(2000, 1, 1, 12), parse_time_units("days since 1850-01-01", "")), 54786.5);
  EXPECT_EQ(from_datetime(dt(1850, 1, 1, 0, 0, 1), parse_time_units("days since 1850-01-01", "")), 1.0 / 86400);
  EXPECT_EQ(from_datetime(dt(1970, 1, 1, 0, 0, 0.001), parse_time_units("milliseconds since 1970-01-01", "")), 1.0);
  EXPECT_EQ(to_datetime(1500, parse_time_units("milliseconds since 1970-01-01", "")), dt(1970, 1, 1, 0, 0, 1.5));
}

// Whole seconds are exact over +-10,000 years, in every unit that can hold them exactly.
TEST(TimeValues, WholeSecondsAreExactOverTenThousandYears) {
  std::mt19937_64 rng(7);
  for (Calendar c : all_calendars) {
    const TimeUnits s = parse_time_units("seconds since 1850-01-01 12:00:00", calendar_name(c));
    const TimeUnits m = parse_time_units("minutes since 1850-01-01 12:00:00", calendar_name(c));
    const TimeUnits h = parse_time_units("hours since 1850-01-01 12:00:00", calendar_name(c));
    const TimeUnits d = parse_time_units("days since 1850-01-01 12:00:00", calendar_name(c));
    std::uniform_int_distribution<std::int64_t> seconds(-10000LL * 366 * 86400, 10000LL * 366 * 86400);
    for (int i = 0; i < 20000; ++i) {
      const double v = static_cast<double>(seconds(rng));
      const DateTime t = to_datetime(v, s);
      ASSERT_EQ(micros_of_second(t) % 1000000, 0) << v;
      ASSERT_EQ(from_datetime(t, s), v) << calendar_name(c) << " " << v;
      ASSERT_EQ(convert(v, s, s), v);
      for (const TimeUnits* coarse : {&m, &h, &d}) {
        const double whole = std::floor(v / coarse->seconds_per_unit);
        ASSERT_EQ(to_datetime(whole, *coarse), to_datetime(whole * coarse->seconds_per_unit, s)) << whole;
        ASSERT_EQ(from_datetime(to_datetime(whole, *coarse), *coarse), whole);
      }
    }
  }
}

TEST(TimeValues, OutOfRangeAndNonFinite) {
  const TimeUnits d = parse_time_units("days since 1850-01-01", "");
  EXPECT_HAS(error_of([&] { to_datetime(std::nan(""), d); }), "not finite");
  EXPECT_HAS(error_of([&] { to_datetime(INFINITY, d); }), "not finite");
  EXPECT_HAS(error_of([&] { to_datetime(1e20, d); }), "more than 300 million years");
  EXPECT_HAS(error_of([&] { from_datetime(dt(2000, 1, 1, 24), d); }), "hour 24 is not in 0..23");
  EXPECT_HAS(error_of([&] { from_datetime(dt(2001, 2, 29), d); }), "2001-02-29 does not exist in the standard calendar");
  const DateTime far = to_datetime(100e6 * 365.25, d);  // far, but representable
  EXPECT_GT(far.year, 100000000);
  EXPECT_EQ(from_datetime(far, d), 100e6 * 365.25);
  const TimeUnits us = parse_time_units("microseconds since 1850-01-01", "");
  const DateTime beyond = to_datetime(9.2e18, us);  // past 64-bit microseconds since year 1
  EXPECT_GT(beyond.year, 290000);
  EXPECT_EQ(from_datetime(beyond, us), 9.2e18);
}

TEST(TimeValues, Convert) {
  const TimeUnits days1850 = parse_time_units("days since 1850-01-01", "standard");
  const TimeUnits hours1970 = parse_time_units("hours since 1970-01-01 00:00:00", "gregorian");
  EXPECT_EQ(convert(43829.5, days1850, hours1970), 12.0);  // 1970-01-01T12
  EXPECT_EQ(convert(12.0, hours1970, days1850), 43829.5);
  EXPECT_EQ(convert(0, parse_time_units("days since 1582-10-04", ""), parse_time_units("days since 1582-10-15", "")), -1);
  const TimeUnits noleap = parse_time_units("days since 1850-01-01", "noleap");
  EXPECT_HAS(error_of([&] { convert(1, days1850, noleap); }), "cannot convert times between calendars standard");
}

// ---------------------------------------------------------------------------------------------
// ISO dates in job files

TEST(IsoDates, PartialDatesAreTheStartOfTheirPeriod) {
  const Calendar s = Calendar::standard;
  EXPECT_EQ(parse_iso_date("1991", s), dt(1991, 1, 1));
  EXPECT_EQ(parse_iso_date("1991-03", s), dt(1991, 3, 1));
  EXPECT_EQ(parse_iso_date("1991-03-07", s), dt(1991, 3, 7));
  EXPECT_EQ(parse_iso_date("1991-03-07T12", s), dt(1991, 3, 7, 12));
  EXPECT_EQ(parse_iso_date("1991-03-07 12:30", s), dt(1991, 3, 7, 12, 30));
  EXPECT_EQ(parse_iso_date("1991-03-07T12:30:15", s), dt(1991, 3, 7, 12, 30, 15));
  EXPECT_EQ(parse_iso_date("1991-03-07T12:30:15.25", s), dt(1991, 3, 7, 12, 30, 15.25));
  EXPECT_EQ(parse_iso_date("1991-03-07T12:30:15Z", s), dt(1991, 3, 7, 12, 30, 15));
  EXPECT_EQ(parse_iso_date(" 1991-3-7 ", s), dt(1991, 3, 7));
  EXPECT_EQ(parse_iso_date("850", s), dt(850, 1, 1));
  EXPECT_EQ(parse_iso_date("12000-01-01", Calendar::noleap), dt(12000, 1, 1));
  EXPECT_EQ(parse_iso_date("-0044-03-15", Calendar::julian), dt(-44, 3, 15));
  EXPECT_EQ(parse_iso_date("+123456", Calendar::noleap), dt(123456, 1, 1));
}

TEST(IsoDates, EndOfPeriodIsTheLastMicrosecond) {
  const Calendar s = Calendar::standard;
  EXPECT_EQ(parse_iso_date("2020", s, true), dt(2020, 12, 31, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("2020-02", s, true), dt(2020, 2, 29, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("2020-02", Calendar::noleap, true), dt(2020, 2, 28, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("2021-02", Calendar::day360, true), dt(2021, 2, 30, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("2021", Calendar::day360, true), dt(2021, 12, 30, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("2020-12-31", s, true), dt(2020, 12, 31, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("1991-01-01T12", s, true), dt(1991, 1, 1, 12, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("1991-01-01 12:30", s, true), dt(1991, 1, 1, 12, 30, 59.999999));
  EXPECT_EQ(parse_iso_date("1991-01-01T12:30:00", s, true), dt(1991, 1, 1, 12, 30, 0.999999));
  EXPECT_EQ(parse_iso_date("1991-01-01T12:30:00.5", s, true), dt(1991, 1, 1, 12, 30, 0.5));  // an instant
  EXPECT_EQ(parse_iso_date("1582-10-04", s, true), dt(1582, 10, 4, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("1582-10", s, true), dt(1582, 10, 31, 23, 59, 59.999999));
  EXPECT_EQ(parse_iso_date("-1", s, true), dt(-1, 12, 31, 23, 59, 59.999999));

  // Selecting ["1991-01-01", "2020-12-31"] takes every time step of 2020-12-31 and none of 2021.
  const DateTime lo = parse_iso_date("1991-01-01", s), hi = parse_iso_date("2020-12-31", s, true);
  const TimeUnits hours = parse_time_units("hours since 1850-01-01", "standard");
  for (double v : {from_datetime(dt(2020, 12, 31), hours), from_datetime(dt(2020, 12, 31, 12), hours),
                   from_datetime(dt(2020, 12, 31, 23), hours), from_datetime(dt(2020, 12, 31, 23, 59, 59.5), hours),
                   from_datetime(dt(1991, 1, 1), hours)}) {
    const DateTime t = to_datetime(v, hours);
    EXPECT_TRUE(lo <= t && t <= hi) << format_iso(t);
  }
  EXPECT_FALSE(to_datetime(from_datetime(dt(2021, 1, 1), hours), hours) <= hi);
  EXPECT_FALSE(to_datetime(from_datetime(dt(1990, 12, 31, 23), hours), hours) >= lo);
  EXPECT_EQ(next_period_start(parse_iso_date("2020-12-31", s), Period::day, s), dt(2021, 1, 1));
}

TEST(IsoDates, Rejected) {
  auto err = [](const std::string& s, Calendar c = Calendar::standard) {
    return error_of([&] { parse_iso_date(s, c); });
  };
  EXPECT_HAS(err("2001-02-29"), "date '2001-02-29': 2001-02-29 does not exist in the standard calendar");
  EXPECT_EQ(parse_iso_date("2001-02-30", Calendar::day360), dt(2001, 2, 30));
  EXPECT_HAS(err("2001-02-31", Calendar::day360), "does not exist in the 360_day calendar");
  EXPECT_HAS(err("2000-02-29", Calendar::noleap), "does not exist in the noleap calendar");
  EXPECT_EQ(parse_iso_date("2001-02-29", Calendar::all_leap), dt(2001, 2, 29));
  EXPECT_HAS(err("1582-10-10"), "1582-10-04 is followed by 1582-10-15");
  EXPECT_EQ(parse_iso_date("1582-10-10", Calendar::proleptic_gregorian), dt(1582, 10, 10));
  EXPECT_HAS(err("0000"), "year 0 does not exist in the standard calendar");
  EXPECT_HAS(err("1991-13"), "month 13 is not in 1..12");
  EXPECT_HAS(err("1991-01-01T24"), "hour 24 is not in 0..23");
  for (const char* bad : {"", "abc", "19910101", "199101", "1991/01/01", "1991-01-01T", "1991-01-01T12:", "1991-",
                          "1991-01-01X", "1991-01-01T12:30:00.", "1991-001-01", "1991-01-01 12h", "--1991"})
    EXPECT_HAS(err(bad), "malformed date '" + std::string(bad) + "'; expected YYYY[-MM[-DD[Thh[:mm[:ss]]]]]");
}

TEST(IsoDates, Format) {
  EXPECT_EQ(format_iso(dt(1991, 1, 1)), "1991-01-01");
  EXPECT_EQ(format_iso(dt(1991, 1, 1, 12, 30)), "1991-01-01T12:30:00");
  EXPECT_EQ(format_iso(dt(1991, 1, 1, 0, 0, 0.5)), "1991-01-01T00:00:00.5");
  EXPECT_EQ(format_iso(dt(1991, 1, 1, 23, 59, 59.999999)), "1991-01-01T23:59:59.999999");
  EXPECT_EQ(format_iso(dt(850, 3, 4)), "0850-03-04");
  EXPECT_EQ(format_iso(dt(-44, 3, 15)), "-0044-03-15");
  EXPECT_EQ(format_iso(dt(12000, 1, 1)), "12000-01-01");
  for (Calendar c : all_calendars)
    for (const char* s : {"1991-01-01", "1991-02-28T12:30:00", "2000-12-30T23:59:59.999999", "-0044-03-15T01:02:03.25"})
      EXPECT_EQ(format_iso(parse_iso_date(s, c)), s);
}

// ---------------------------------------------------------------------------------------------
// Periods

TEST(Periods, Seasons) {
  EXPECT_EQ(season_of_month(12), 0);
  EXPECT_EQ(season_of_month(1), 0);
  EXPECT_EQ(season_of_month(2), 0);
  EXPECT_EQ(season_of_month(3), 1);
  EXPECT_EQ(season_of_month(5), 1);
  EXPECT_EQ(season_of_month(6), 2);
  EXPECT_EQ(season_of_month(8), 2);
  EXPECT_EQ(season_of_month(9), 3);
  EXPECT_EQ(season_of_month(11), 3);
  EXPECT_HAS(error_of([] { season_of_month(0); }), "month 0 is not in 1..12");

  const Calendar s = Calendar::standard;
  EXPECT_EQ(period_start(dt(2001, 1, 15, 6), Period::season, s), dt(2000, 12, 1));
  EXPECT_EQ(period_start(dt(2001, 2, 28, 23, 59, 59.9), Period::season, s), dt(2000, 12, 1));
  EXPECT_EQ(period_start(dt(2000, 12, 1), Period::season, s), dt(2000, 12, 1));
  EXPECT_EQ(period_start(dt(2000, 11, 30), Period::season, s), dt(2000, 9, 1));
  EXPECT_EQ(period_start(dt(2000, 4, 30), Period::season, s), dt(2000, 3, 1));
  EXPECT_EQ(period_start(dt(2000, 8, 31), Period::season, s), dt(2000, 6, 1));
  EXPECT_EQ(next_period_start(dt(2000, 12, 1), Period::season, s), dt(2001, 3, 1));
  EXPECT_EQ(next_period_start(dt(2001, 1, 10), Period::season, s), dt(2001, 3, 1));
  EXPECT_EQ(next_period_start(dt(2001, 9, 1), Period::season, s), dt(2001, 12, 1));
  EXPECT_EQ(period_start(dt(1, 2, 1), Period::season, s), dt(-1, 12, 1));  // no year 0
  EXPECT_EQ(period_start(dt(1, 2, 1), Period::season, Calendar::noleap), dt(0, 12, 1));
  EXPECT_EQ(next_period_start(dt(-1, 12, 1), Period::season, s), dt(1, 3, 1));
  EXPECT_EQ(period_start(dt(2001, 2, 30), Period::season, Calendar::day360), dt(2000, 12, 1));
}

TEST(Periods, HourDayMonthYear) {
  const Calendar s = Calendar::standard;
  const DateTime t = dt(2000, 2, 29, 23, 45, 30.5);
  EXPECT_EQ(period_start(t, Period::hour, s), dt(2000, 2, 29, 23));
  EXPECT_EQ(period_start(t, Period::day, s), dt(2000, 2, 29));
  EXPECT_EQ(period_start(t, Period::month, s), dt(2000, 2, 1));
  EXPECT_EQ(period_start(t, Period::year, s), dt(2000, 1, 1));
  EXPECT_EQ(next_period_start(t, Period::hour, s), dt(2000, 3, 1));
  EXPECT_EQ(next_period_start(t, Period::day, s), dt(2000, 3, 1));
  EXPECT_EQ(next_period_start(t, Period::month, s), dt(2000, 3, 1));
  EXPECT_EQ(next_period_start(t, Period::year, s), dt(2001, 1, 1));
  EXPECT_EQ(next_period_start(dt(2000, 12, 31, 23), Period::hour, s), dt(2001, 1, 1));
  EXPECT_EQ(next_period_start(dt(2000, 12, 5), Period::month, s), dt(2001, 1, 1));
  EXPECT_EQ(next_period_start(dt(1582, 10, 4, 23), Period::hour, s), dt(1582, 10, 15));
  EXPECT_EQ(next_period_start(dt(-1, 7, 1), Period::year, s), dt(1, 1, 1));
  EXPECT_EQ(next_period_start(dt(-1, 7, 1), Period::year, Calendar::proleptic_gregorian), dt(0, 1, 1));
  // 360_day: every month has 30 days, February included.
  const Calendar d360 = Calendar::day360;
  EXPECT_EQ(period_start(dt(2001, 2, 30, 12), Period::month, d360), dt(2001, 2, 1));
  EXPECT_EQ(next_period_start(dt(2001, 2, 1), Period::month, d360), dt(2001, 3, 1));
  EXPECT_EQ(next_period_start(dt(2001, 2, 29), Period::day, d360), dt(2001, 2, 30));
  EXPECT_EQ(next_period_start(dt(2001, 2, 30), Period::day, d360), dt(2001, 3, 1));
  EXPECT_EQ(next_period_start(dt(2001, 12, 30, 23), Period::hour, d360), dt(2002, 1, 1));
  EXPECT_EQ(next_period_start(dt(2000, 2, 28), Period::day, Calendar::noleap), dt(2000, 3, 1));
  EXPECT_EQ(next_period_start(dt(2001, 2, 28), Period::day, Calendar::all_leap), dt(2001, 2, 29));

  // Monthly periods tile the time axis: walking month starts covers every day exactly once.
  for (Calendar c : all_calendars) {
    DateTime m = dt(1, 1, 1);
    std::int64_t days = 0;
    while (m.year < 2001) {
      const DateTime next = next_period_start(m, Period::month, c);
      days += to_serial_day(next.year, next.month, next.day, c) - to_serial_day(m.year, m.month, m.day, c);
      m = next;
    }
    EXPECT_EQ(days, to_serial_day(2001, 1, 1, c)) << calendar_name(c);
  }
}

TEST(DateTimeOrder, Comparisons) {
  EXPECT_LT(dt(-1, 12, 31), dt(1, 1, 1));
  EXPECT_LT(dt(2000, 1, 1, 0, 0, 0.5), dt(2000, 1, 1, 0, 0, 0.6));
  EXPECT_LT(dt(2000, 1, 31), dt(2000, 2, 1));
  EXPECT_LE(dt(2000, 1, 1), dt(2000, 1, 1));
  EXPECT_GT(dt(2000, 1, 1, 1), dt(2000, 1, 1, 0, 59));
  EXPECT_GE(dt(2000, 1, 1), dt(2000, 1, 1));
  EXPECT_NE(dt(2000, 1, 1), dt(2000, 1, 2));
  EXPECT_EQ(DateTime{}, dt(1, 1, 1));
}

}  // namespace
}  // namespace tessera::cf
