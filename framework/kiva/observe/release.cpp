#include "kiva/observe/release.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace kiva::observe {

namespace {

bool read_at(std::ifstream& in, std::uint64_t offset, void* out, std::size_t size) {
    in.seekg(static_cast<std::streamoff>(offset));
    return static_cast<bool>(in.read(static_cast<char*>(out), static_cast<std::streamsize>(size)));
}

/// Letters, digits and " ._:@+-" (what deploy.sh writes), at most 200 bytes.
std::string safe(std::string s) {
    std::string out;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr(" ._:@+-", c);
        if (ok && c != '\0') out.push_back(c);
        if (out.size() == 200) break;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

}  // namespace

std::string read_release_section(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    Elf64_Ehdr eh{};
    if (!in || !read_at(in, 0, &eh, sizeof eh)) return "";
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
        return "";
    std::vector<Elf64_Shdr> sections(eh.e_shnum);
    if (!read_at(in, eh.e_shoff, sections.data(), sections.size() * sizeof(Elf64_Shdr))) return "";
    const Elf64_Shdr& names = sections[eh.e_shstrndx];
    if (names.sh_size > (1 << 20)) return "";
    std::string table(names.sh_size, '\0');
    if (!read_at(in, names.sh_offset, table.data(), table.size())) return "";
    for (const auto& s : sections) {
        if (s.sh_name >= table.size() ||
            std::strcmp(table.c_str() + s.sh_name, ".kiva.release") != 0)
            continue;
        std::string text(std::min<std::uint64_t>(s.sh_size, 4096), '\0');
        if (!read_at(in, s.sh_offset, text.data(), text.size())) return "";
        return safe(text.substr(0, text.find('\n')));
    }
    return "";
}

const std::string& release() {
    static const std::string value = [] {
        std::string r = read_release_section("/proc/self/exe");
        return r.empty() ? std::string("dev") : r;
    }();
    return value;
}

}  // namespace kiva::observe
