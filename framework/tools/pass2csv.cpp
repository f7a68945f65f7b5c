// kiva-pass2csv: turns "login password [admin]" lines into CSV with bcrypt hashes, for
//   \copy Utilisateur(login, pword, isAdmin) FROM 'users.csv' (FORMAT csv)
// The equivalent of the course's pass2csv.py.

#include "kiva/security/auth/password.hpp"

#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using kiva::auth::hash_password;

constexpr int default_cost = 4;

void print_usage(std::ostream& out) {
    out << "usage: kiva-pass2csv [--cost N] [FILE...]\n"
           "\n"
           "Reads lines \"login password [admin]\" from the files (or standard input, also\n"
           "given as '-') and writes CSV lines \"login\",\"bcrypt hash\",TRUE|FALSE for\n"
           "  \\copy Utilisateur(login, pword, isAdmin) FROM 'file.csv' (FORMAT csv)\n"
           "Fields are separated by spaces or tabs; blank lines and lines starting with '#'\n"
           "are skipped. admin is true/false, t/f or 1/0 in any case; it defaults to FALSE.\n"
           "\n"
           "  --cost N   bcrypt cost, 4 to 31 (default "
        << default_cost
        << ", fast for demos and tests;\n"
           "             production should use 10 or more)\n"
           "  --help     print this help\n"
           "\n"
           "Nothing is written unless every line is valid; errors go to standard error as\n"
           "file:line: message, and the exit status is then 1.\n";
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_blank(line[i])) ++i;
        const std::size_t start = i;
        while (i < line.size() && !is_blank(line[i])) ++i;
        if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<bool> parse_admin(std::string_view field) {
    const std::string value = lowercase(field);
    if (value == "true" || value == "t" || value == "1") return true;
    if (value == "false" || value == "f" || value == "0") return false;
    return std::nullopt;
}

/// A CSV field always quoted, with inner quotes doubled (RFC 4180, as psql reads it).
std::string csv_quote(std::string_view field) {
    std::string out = "\"";
    for (const char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

/// Converts one input line, or throws std::invalid_argument with the reason.
std::optional<std::string> convert_line(std::string_view line, int cost) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    const auto fields = split_fields(line);
    if (fields.empty() || fields.front().front() == '#') return std::nullopt;
    if (fields.size() < 2) throw std::invalid_argument("missing password");
    if (fields.size() > 3) throw std::invalid_argument("too many fields");
    bool admin = false;
    if (fields.size() == 3) {
        const auto value = parse_admin(fields[2]);
        if (!value) throw std::invalid_argument("bad admin value, expecting true or false");
        admin = *value;
    }
    return csv_quote(fields[0]) + ',' + csv_quote(hash_password(fields[1], cost)) + ',' +
           (admin ? "TRUE" : "FALSE") + '\n';
}

/// Converts a whole stream into csv; returns false after reporting any bad line.
bool convert_stream(std::istream& in, std::string_view name, int cost, std::string& csv) {
    bool ok = true;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        try {
            if (const auto row = convert_line(line, cost)) csv += *row;
        } catch (const std::invalid_argument& e) {
            std::cerr << name << ':' << number << ": " << e.what() << '\n';
            ok = false;
        }
    }
    if (in.bad()) {
        std::cerr << name << ": read error\n";
        ok = false;
    }
    return ok;
}

std::optional<int> parse_cost(std::string_view text) {
    int cost = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cost);
    if (error != std::errc{} || end != text.data() + text.size() || cost < 4 || cost > 31)
        return std::nullopt;
    return cost;
}

}  // namespace

int main(int argc, char* argv[]) {
    int cost = default_cost;
    std::vector<std::string_view> files;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (options_done || arg == "-" || !arg.starts_with("-")) {
            files.push_back(arg);
        } else if (arg == "--") {
            options_done = true;
        } else if (arg == "--help" || arg == "-h") {
            print_usage(std::cout);
            return 0;
        } else if (arg == "--cost" || arg.starts_with("--cost=")) {
            std::string_view value;
            if (arg != "--cost") {
                value = arg.substr(7);
            } else if (i + 1 < argc) {
                value = argv[++i];
            }
            const auto parsed = parse_cost(value);
            if (!parsed) {
                std::cerr << "kiva-pass2csv: --cost expects an integer from 4 to 31\n";
                return 2;
            }
            cost = *parsed;
        } else {
            std::cerr << "kiva-pass2csv: unknown option " << arg << "\n";
            print_usage(std::cerr);
            return 2;
        }
    }
    if (files.empty()) files.push_back("-");

    // Everything is converted before anything is written, so that a bad line never leaves
    // a partial CSV behind to be loaded.
    std::string csv;
    bool ok = true;
    for (const auto file : files) {
        if (file == "-") {
            ok = convert_stream(std::cin, "<stdin>", cost, csv) && ok;
            continue;
        }
        std::ifstream in{std::string(file)};
        if (!in) {
            std::cerr << file << ": cannot open\n";
            ok = false;
            continue;
        }
        ok = convert_stream(in, file, cost, csv) && ok;
    }
    if (!ok) return 1;
    std::cout << csv << std::flush;
    return std::cout ? 0 : 1;
}
