#pragma once
// The message of the exception of type E that f() throws. Fails the calling test when f throws
// nothing or another type, so a check on the message cannot pass by accident.
#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace tessera::testing {

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no exception";
  return "";
}

}  // namespace tessera::testing
