#include "kiva/db/errors.hpp"

#include <boost/test/unit_test.hpp>

#include <string_view>
#include <utility>

using kiva::db::http_status_for_sqlstate;

BOOST_AUTO_TEST_SUITE(sqlstate)

BOOST_AUTO_TEST_CASE(status_table) {
    const std::pair<std::string_view, int> table[] = {
        {"23505", 409},   // unique_violation
        {"23503", 400},   // foreign_key_violation
        {"23514", 400},   // check_violation
        {"23502", 400},   // not_null_violation
        {"23000", 400},   // integrity_constraint_violation
        {"22P02", 400},   // invalid_text_representation
        {"22003", 400},   // numeric_value_out_of_range
        {"22001", 400},   // string_data_right_truncation
        {"22012", 400},   // division_by_zero
        {"08006", 503},   // connection_failure
        {"08001", 503},   // sqlclient_unable_to_establish_sqlconnection
        {"57P01", 503},   // admin_shutdown
        {"53300", 503},   // too_many_connections
        {"40001", 503},   // serialization_failure
        {"40P01", 503},   // deadlock_detected
        {"40002", 500},   // transaction_integrity_constraint_violation: not a retry
        {"42P01", 500},   // undefined_table: a bug
        {"42601", 500},   // syntax_error
        {"25P02", 500},   // in_failed_sql_transaction
        {"25006", 503},   // read_only_sql_transaction: the server became a standby
        {"XX000", 500},   // internal_error
        {"", 500},        // none
        {"2350", 500},    // too short
        {"235050", 500},  // too long
    };
    for (const auto& [state, status] : table) {
        BOOST_TEST_CONTEXT("SQLSTATE \"" << state << "\"") {
            BOOST_TEST(http_status_for_sqlstate(state) == status);
        }
    }
}

BOOST_AUTO_TEST_CASE(db_errors_carry_their_status) {
    kiva::db::DbError dup("23505", "duplicate key value violates unique constraint",
                          "already exists");
    BOOST_TEST(dup.http_status() == 409);
    BOOST_TEST(dup.sqlstate() == "23505");
    BOOST_TEST(dup.client_message() == "already exists");
    BOOST_TEST(std::string_view(dup.what()) == "duplicate key value violates unique constraint");

    kiva::db::DbUnavailable down("connection refused");
    BOOST_TEST(down.http_status() == 503);
    BOOST_TEST(down.client_message() == "database unavailable");
    const kiva::db::DbError& base = down;  // caught as DbError by the application
    BOOST_TEST(base.sqlstate() == "08006");
}

BOOST_AUTO_TEST_SUITE_END()
