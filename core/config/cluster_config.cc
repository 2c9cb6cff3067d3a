#include "core/config/cluster_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <system_error>

#include <fmt/format.h>

namespace wharf {

result<int32_t> parse_node_id(std::string_view text) {
    int32_t n = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size() || n < 0) {
        return std::make_error_code(std::errc::invalid_argument);
    }
    return n;
}

bool is_numeric_host(const std::string& host) {
    if (host == "localhost") return true;
    in6_addr v6{};
    in_addr v4{};
    return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

std::string host_port::to_string() const {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                               : fmt::format("{}:{}", host, port);
}

result<host_port> parse_host_port(std::string_view text) {
    auto bad = [] { return result<host_port>(std::make_error_code(std::errc::invalid_argument)); };
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad();
    std::string host(text.substr(0, colon));
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return bad();
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return bad();  // an IPv6 address must be bracketed
    }
    std::string_view port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) return bad();
    return host_port{host, static_cast<uint16_t>(port)};
}

std::vector<int32_t> cluster_config::voters() const {
    if (seeds.empty()) return {0};
    std::vector<int32_t> out;
    for (const auto& s : seeds) out.push_back(s.node);
    return out;
}

int32_t cluster_config::preferred_leader(unsigned k) const {
    auto v = voters();
    return v[k % v.size()];
}

result<std::vector<seed_broker>> parse_seeds(std::string_view text, std::string* why) {
    auto fail = [why](std::string message) {
        if (why) *why = std::move(message);
        return result<std::vector<seed_broker>>(std::make_error_code(std::errc::invalid_argument));
    };
    std::vector<seed_broker> seeds;
    size_t pos = 0;
    int32_t position = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        std::string_view item = text.substr(pos, comma == std::string_view::npos ? text.npos
                                                                                 : comma - pos);
        pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
        if (item.empty()) return fail("an empty entry (expected ID@HOST:PORT,...)");
        seed_broker s{.node = position++};
        size_t at = item.find('@');
        if (at != std::string_view::npos) {
            auto id = parse_node_id(item.substr(0, at));
            if (!id || *id >= max_cluster_node_ids) {
                return fail(fmt::format("'{}' has no node id from 0 to {} before '@'", item,
                                        max_cluster_node_ids - 1));
            }
            s.node = *id;
            item = item.substr(at + 1);
        }
        auto addr = parse_host_port(item);
        if (!addr || addr->port == 0 || addr->host.empty()) {
            return fail(fmt::format("'{}' is no HOST:PORT with a port other than 0", item));
        }
        s.rpc = *addr;
        seeds.push_back(std::move(s));
    }
    if (seeds.size() != 1 && seeds.size() != 3 && seeds.size() != 5) {
        return fail(fmt::format("{} seeds; a cluster has 1, 3 or 5 (an even count adds a voter "
                                "without surviving one more failure)", seeds.size()));
    }
    std::sort(seeds.begin(), seeds.end(),
              [](const seed_broker& a, const seed_broker& b) { return a.node < b.node; });
    for (size_t i = 1; i < seeds.size(); ++i) {
        if (seeds[i].node == seeds[i - 1].node) {
            return fail(fmt::format("node id {} is named twice", seeds[i].node));
        }
    }
    for (size_t i = 0; i < seeds.size(); ++i) {
        for (size_t j = i + 1; j < seeds.size(); ++j) {
            if (seeds[i].rpc == seeds[j].rpc) {
                return fail(fmt::format("{} is named for nodes {} and {}",
                                        seeds[i].rpc.to_string(), seeds[i].node, seeds[j].node));
            }
        }
    }
    return seeds;
}

}  // namespace wharf
