#include "kiva/security/authorize.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

using kiva::Access;
using kiva::Authorize;
using kiva::AuthScheme;
using kiva::decide_access;
using Level = Authorize::Level;

namespace {

/// A group callback that knows some groups and counts its calls.
struct Groups {
    std::set<std::string> member_of;
    int calls = 0;
    bool operator()(const std::string& g) {
        ++calls;
        return member_of.count(g) > 0;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(authorize)

// ---------------------------------------------------------------- decide_access

BOOST_AUTO_TEST_CASE(undeclared_and_close_are_closed) {
    for (bool user : {false, true}) {
        Groups g{{"ADMIN"}};
        BOOST_TEST((decide_access(Authorize{}, user, g).access == Access::closed));
        BOOST_TEST((decide_access(kiva::CLOSE, user, g).access == Access::closed));
        BOOST_TEST((decide_access(kiva::CLOSE & kiva::OPEN, user, g).access == Access::closed));
        BOOST_TEST(
            (decide_access(kiva::group("ADMIN") & kiva::CLOSE, user, g).access == Access::closed));
        BOOST_TEST(g.calls == 0);
    }
    BOOST_TEST(Authorize{}.closed());
    BOOST_TEST(kiva::CLOSE.closed());
    BOOST_TEST(!kiva::OPEN.closed());
    BOOST_TEST(!kiva::AUTH.closed());
}

BOOST_AUTO_TEST_CASE(open_allows_with_or_without_user) {
    Groups g;
    BOOST_TEST((decide_access(kiva::OPEN, false, g).access == Access::allow));
    BOOST_TEST((decide_access(kiva::OPEN, true, g).access == Access::allow));
    BOOST_TEST(g.calls == 0);
}

BOOST_AUTO_TEST_CASE(auth_needs_a_user) {
    Groups g;
    BOOST_TEST((decide_access(kiva::AUTH, false, g).access == Access::unauthenticated));
    BOOST_TEST((decide_access(kiva::AUTH, true, g).access == Access::allow));
    // Groups are not asked about an anonymous caller.
    BOOST_TEST((decide_access(kiva::group("ADMIN"), false, g).access == Access::unauthenticated));
    BOOST_TEST(g.calls == 0);
}

BOOST_AUTO_TEST_CASE(every_group_must_hold) {
    Authorize both = kiva::group("A") & kiva::group("B");
    Groups none;
    auto d = decide_access(both, true, none);
    BOOST_TEST((d.access == Access::not_in_group));
    BOOST_TEST(d.group == "A");  // the first failing group is reported
    Groups only_a{{"A"}};
    d = decide_access(both, true, only_a);
    BOOST_TEST((d.access == Access::not_in_group));
    BOOST_TEST(d.group == "B");
    Groups only_b{{"B"}};
    d = decide_access(both, true, only_b);
    BOOST_TEST(d.group == "A");
    BOOST_TEST(only_b.calls == 1);  // stops at the first failure
    Groups all{{"A", "B"}};
    d = decide_access(both, true, all);
    BOOST_TEST((d.access == Access::allow));
    BOOST_TEST(d.group.empty());
    BOOST_TEST(all.calls == 2);
}

// ---------------------------------------------------------------- combining

BOOST_AUTO_TEST_CASE(levels_combine) {
    BOOST_TEST((kiva::OPEN.level() == Level::open));
    BOOST_TEST((kiva::AUTH.level() == Level::auth));
    BOOST_TEST((kiva::CLOSE.level() == Level::close));
    BOOST_TEST((Authorize{}.level() == Level::undeclared));
    BOOST_TEST(((kiva::CLOSE & kiva::OPEN).level() == Level::close));
    BOOST_TEST(((kiva::OPEN & kiva::CLOSE).level() == Level::close));
    BOOST_TEST(((kiva::AUTH & kiva::CLOSE).level() == Level::close));
    BOOST_TEST(((kiva::OPEN & kiva::AUTH).level() == Level::auth));
    BOOST_TEST(((kiva::AUTH & kiva::OPEN).level() == Level::auth));
    BOOST_TEST(((kiva::OPEN & kiva::OPEN).level() == Level::open));
}

BOOST_AUTO_TEST_CASE(groups_and_permissions_accumulate_and_imply_auth) {
    Authorize a = kiva::OPEN & kiva::group("g1");
    BOOST_TEST((a.level() == Level::auth));
    BOOST_TEST((a.groups() == std::vector<std::string>{"g1"}));

    Authorize b = kiva::group("g1") & kiva::group("g2") & kiva::permission("owned", "oid");
    BOOST_TEST((b.level() == Level::auth));
    BOOST_TEST((b.groups() == std::vector<std::string>{"g1", "g2"}));
    BOOST_TEST_REQUIRE(b.objects().size() == 1u);
    BOOST_TEST(b.objects()[0].domain == "owned");
    BOOST_TEST(b.objects()[0].param == "oid");

    Authorize p = kiva::OPEN & kiva::permission("users", "uid");
    BOOST_TEST((p.level() == Level::auth));
    BOOST_TEST(p.groups().empty());
    BOOST_TEST(p.objects().size() == 1u);

    Authorize c = kiva::permission("a", "x") & kiva::CLOSE;
    BOOST_TEST(c.closed());
    BOOST_TEST(c.objects().size() == 1u);
}

BOOST_AUTO_TEST_CASE(via_sets_the_schemes) {
    Authorize t = kiva::AUTH.via({AuthScheme::token});
    BOOST_TEST((t.level() == Level::auth));
    BOOST_TEST((t.schemes() == std::vector<AuthScheme>{AuthScheme::token}));
    BOOST_TEST(kiva::AUTH.schemes().empty());  // the constant is unchanged

    Authorize g = kiva::group("A").via({AuthScheme::basic, AuthScheme::param});
    BOOST_TEST((g.groups() == std::vector<std::string>{"A"}));
    BOOST_TEST(g.schemes().size() == 2u);

    // & keeps the left schemes unless the right one names some.
    Authorize kept = kiva::group("A").via({AuthScheme::basic}) & kiva::group("B");
    BOOST_TEST((kept.schemes() == std::vector<AuthScheme>{AuthScheme::basic}));
    Authorize replaced =
        kiva::group("A").via({AuthScheme::basic}) & kiva::AUTH.via({AuthScheme::httpd});
    BOOST_TEST((replaced.schemes() == std::vector<AuthScheme>{AuthScheme::httpd}));
}

// ---------------------------------------------------------------- modes and schemes

BOOST_AUTO_TEST_CASE(modes_of_methods) {
    using kiva::Mode;
    BOOST_TEST((kiva::mode_of_method("GET") == Mode::read));
    BOOST_TEST((kiva::mode_of_method("HEAD") == Mode::read));
    BOOST_TEST((kiva::mode_of_method("OPTIONS") == Mode::read));
    BOOST_TEST((kiva::mode_of_method("POST") == Mode::create));
    BOOST_TEST((kiva::mode_of_method("PUT") == Mode::update));
    BOOST_TEST((kiva::mode_of_method("PATCH") == Mode::update));
    BOOST_TEST((kiva::mode_of_method("DELETE") == Mode::remove));
    BOOST_TEST(kiva::to_string(Mode::read) == "read");
    BOOST_TEST(kiva::to_string(Mode::create) == "create");
    BOOST_TEST(kiva::to_string(Mode::update) == "update");
    BOOST_TEST(kiva::to_string(Mode::remove) == "delete");
}

BOOST_AUTO_TEST_CASE(scheme_names) {
    BOOST_TEST((kiva::parse_auth_scheme("basic") == AuthScheme::basic));
    BOOST_TEST((kiva::parse_auth_scheme("param") == AuthScheme::param));
    BOOST_TEST((kiva::parse_auth_scheme("token") == AuthScheme::token));
    BOOST_TEST((kiva::parse_auth_scheme("httpd") == AuthScheme::httpd));
    BOOST_TEST(!kiva::parse_auth_scheme("Basic").has_value());
    BOOST_TEST(!kiva::parse_auth_scheme("").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
