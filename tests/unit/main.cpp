// The one translation unit that defines the Boost.Test module; every other file adds suites.
#define BOOST_TEST_MODULE kiva
#include <boost/test/unit_test.hpp>
