// `wharf produce TOPIC` (lines from stdin) and `wharf consume TOPIC` (records to stdout, with a
// kcat-style --format), and the offset resolution they share with `wharf group seek`.

#include <fmt/format.h>

#include <charconv>
#include <iostream>
#include <map>

#include "core/cli/commands.h"
#include "core/client/fetched_records.h"
#include "log/compression.h"
#include "net/kafka/client/group_member.h"
#include "net/kafka/client/murmur2.h"

namespace wharf::cli {

namespace {

using namespace kafka;
using kafka::client::topic_partition;

// Lines sent per round of produce requests.
constexpr size_t records_per_round = 10'000;
constexpr size_t batch_bytes_limit = 900 * 1024;  // under the default max.message.bytes (1 MiB)
constexpr int32_t produce_timeout_ms = 30'000;

struct line_record {
    std::optional<std::string> key;
    std::string value;
};

int16_t acks_value(const std::string& acks) {
    if (acks == "all" || acks == "-1") return -1;
    if (acks == "1") return 1;
    if (acks == "0") return 0;
    throw cli_error("--acks must be all, 1 or 0");
}

// Sends one round: a batch per partition (split at batch_bytes_limit), one request per leader.
task<size_t> send_round(context& ctx, const produce_options& o,
                        const kafka::client::topic_info& info,
                        std::map<int32_t, std::vector<line_record>>& by_partition,
                        compression_type codec, int16_t acks,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
    std::map<int32_t, produce_request> requests;  // by leader
    for (auto& [p, records] : by_partition) {
        int32_t leader = info.partitions.at(static_cast<size_t>(p)).leader;
        produce_request& req = requests[leader];
        req.acks = acks;
        req.timeout_ms = produce_timeout_ms;
        if (req.topic_data.empty()) {
            req.topic_data.emplace_back();
            req.topic_data.back().name = o.topic;
        }
        std::vector<record_to_build> batch;
        iobuf all;
        size_t bytes = 0;
        auto flush = [&] {
            if (batch.empty()) return;
            auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
            std::vector<std::byte> b = build_batch(kafka_offset(0), wall_ms, batch, codec);
            all.append(b.data(), b.size());
            batch.clear();
            bytes = 0;
        };
        for (const line_record& r : records) {
            record_to_build rb;
            if (r.key) rb.key = *r.key;
            rb.value = r.value;
            for (const auto& [k, v] : headers) rb.headers.emplace_back(k, v);
            bytes += r.value.size() + (r.key ? r.key->size() : 0) + 32;
            batch.push_back(std::move(rb));
            if (bytes >= batch_bytes_limit) flush();
        }
        flush();
        produce_request::partition_produce_data pd;
        pd.index = p;
        pd.records = std::move(all);
        req.topic_data.back().partition_data.push_back(std::move(pd));
    }
    size_t sent = 0;
    for (auto& [leader, req] : requests) {
        if (acks == 0) {
            auto c = co_await ctx.client->broker(leader);
            check("connect", c.error());
            int16_t v = ctx.client->version(api_key::produce);
            auto r = (*c)->send_only(api_key::produce, v,
                                     kafka::client::connection::encode_body(req, v));
            check("produce", r.error());
            continue;
        }
        auto resp = co_await ctx.client->call<produce_request, produce_response>(leader, req);
        check("produce", resp.error());
        for (const auto& t : resp->responses) {
            for (const auto& p : t.partition_responses) {
                if (p.error_code != 0) {
                    kafka_failure(fmt::format("produce to {}/{}", t.name, p.index), p.error_code,
                                  p.error_message);
                }
            }
        }
    }
    for (auto& [p, records] : by_partition) sent += records.size();
    by_partition.clear();
    co_return sent;
}

std::string escape(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// kcat's format tokens: %t topic, %p partition, %o offset, %k key, %v value, %T timestamp,
// %h headers (k=v,k=v), %s value size; \n \t escapes.
std::string format_record(const std::string& fmt, const std::string& topic, int32_t partition,
                          const wharf::client::fetched_record& f) {
    std::string out;
    const record_view& r = *f.record;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '\\' && i + 1 < fmt.size()) {
            char e = fmt[++i];
            out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
            continue;
        }
        if (c != '%' || i + 1 == fmt.size()) {
            out += c;
            continue;
        }
        switch (fmt[++i]) {
            case 't':
                out += topic;
                break;
            case 'p':
                out += std::to_string(partition);
                break;
            case 'o':
                out += std::to_string(f.offset);
                break;
            case 'T':
                out += std::to_string(f.timestamp);
                break;
            case 'k':
                if (r.key) out += escape(*r.key);
                break;
            case 'v':
                if (r.value) out += escape(*r.value);
                break;
            case 's':
                out += std::to_string(r.value ? r.value->size() : 0);
                break;
            case 'h': {
                header_reader h(r);
                bool first = true;
                while (!h.at_end()) {
                    record_header_view hv = h.next();
                    if (!first) out += ',';
                    first = false;
                    out += escape(hv.key);
                    out += '=';
                    if (hv.value) out += escape(*hv.value);
                }
                break;
            }
            case '%':
                out += '%';
                break;
            default:
                out += '%';
                out += fmt[i];
        }
    }
    return out;
}

// A non-negative offset or timestamp of --offset; anything else is a usage error.
int64_t parse_offset_number(std::string_view text, const std::string& spec) {
    int64_t n = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < 0) {
        throw cli_error("offset '" + spec + "': expected start, end, N or @timestamp-ms");
    }
    return n;
}

}  // namespace

task<kafka::client::topic_info> describe_topic(context& ctx, const std::string& topic) {
    std::vector<std::string> topics = {topic};  // named: an initializer list inside co_await
                                                // breaks GCC 12
    auto md = co_await ctx.client->refresh_metadata(topics);
    check("metadata", md.error());
    auto it = ctx.client->metadata().topics.find(topic);
    if (it == ctx.client->metadata().topics.end()) {
        kafka_failure("topic " + topic,
                      static_cast<int16_t>(error_code::unknown_topic_or_partition));
    }
    if (it->second.error != error_code::none) {
        kafka_failure("topic " + topic, static_cast<int16_t>(it->second.error));
    }
    kafka::client::topic_info info = it->second;
    co_return info;
}

task<std::map<int32_t, int64_t>> resolve_offsets(context& ctx, const std::string& topic,
                                                 const std::vector<int32_t>& partitions,
                                                 const std::string& spec) {
    std::map<int32_t, int64_t> out;
    int64_t timestamp = 0;
    if (spec == "start" || spec == "beginning") {
        timestamp = -2;
    } else if (spec == "end") {
        timestamp = -1;
    } else if (!spec.empty() && spec[0] == '@') {
        timestamp = parse_offset_number(spec.substr(1), spec);
    } else {
        int64_t n = parse_offset_number(spec, spec);
        for (int32_t p : partitions) out[p] = n;
        co_return out;
    }
    kafka::client::topic_info info = co_await describe_topic(ctx, topic);
    std::map<int32_t, list_offsets_request> by_leader;
    for (int32_t p : partitions) {
        list_offsets_request& req = by_leader[info.partitions.at(static_cast<size_t>(p)).leader];
        req.replica_id = -1;
        if (req.topics.empty()) {
            req.topics.emplace_back();
            req.topics.back().name = topic;
        }
        list_offsets_request::list_offsets_partition lp;
        lp.partition_index = p;
        lp.timestamp = timestamp;
        req.topics.back().partitions.push_back(lp);
    }
    for (auto& [leader, req] : by_leader) {
        auto resp =
            co_await ctx.client->call<list_offsets_request, list_offsets_response>(leader, req);
        check("list offsets", resp.error());
        for (const auto& t : resp->topics) {
            for (const auto& p : t.partitions) {
                if (p.error_code != 0) kafka_failure("list offsets", p.error_code);
                out[p.partition_index] = p.offset;
            }
        }
    }
    if (timestamp >= 0) {  // no record at or after the time: the end
        std::vector<int32_t> missing;
        for (auto& [p, offset] : out) {
            if (offset < 0) missing.push_back(p);
        }
        if (!missing.empty()) {
            auto ends = co_await resolve_offsets(ctx, topic, missing, "end");
            for (auto& [p, offset] : ends) out[p] = offset;
        }
    }
    co_return out;
}

task<void> produce_command(context& ctx, const produce_options& o) {
    int16_t acks = acks_value(o.acks);
    auto codec = codec_from_name(o.compression);
    if (!codec) throw cli_error("--compression must be none, gzip, snappy, lz4 or zstd");
    std::vector<std::pair<std::string, std::string>> headers;
    for (const std::string& h : o.headers) {
        auto eq = h.find('=');
        if (eq == std::string::npos || eq == 0) throw cli_error("-H " + h + ": expected key=value");
        headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    }
    kafka::client::topic_info info = co_await describe_topic(ctx, o.topic);
    auto partitions = static_cast<int32_t>(info.partitions.size());
    if (o.partition && (*o.partition < 0 || *o.partition >= partitions)) {
        throw cli_error(fmt::format("--partition {}: {} has partitions 0 to {}", *o.partition,
                                    o.topic, partitions - 1));
    }
    std::map<int32_t, std::vector<line_record>> by_partition;
    size_t pending = 0, total = 0;
    int32_t sticky = 0;
    std::string line;
    while (std::getline(std::cin, line)) {
        line_record r;
        if (o.key_separator && !o.key_separator->empty()) {
            auto at = line.find(*o.key_separator);
            if (at != std::string::npos) {
                r.key = line.substr(0, at);
                r.value = line.substr(at + o.key_separator->size());
            } else {
                r.value = line;
            }
        } else {
            r.value = line;
        }
        int32_t p = o.partition ? *o.partition
                    : r.key     ? kafka::client::partition_for_key(*r.key, partitions)
                                : sticky;
        by_partition[p].push_back(std::move(r));
        if (++pending == records_per_round) {
            total += co_await send_round(ctx, o, info, by_partition, *codec, acks, headers);
            pending = 0;
            sticky = (sticky + 1) % partitions;  // keyless records move on per round
        }
    }
    if (pending > 0)
        total += co_await send_round(ctx, o, info, by_partition, *codec, acks, headers);
    if (!ctx.json) {
        std::cerr << fmt::format("wharf: produced {} records to {}\n", total, o.topic);
    } else {
        std::cout << fmt::format("{{\"topic\": \"{}\", \"records\": {}}}\n", o.topic, total);
    }
}

// Joins (or rejoins) the group: this member's partitions, at their committed offsets or, for
// partitions without one, where --offset says.
task<void> join_group(context& ctx, const consume_options& o, kafka::client::group_member& member,
                      std::vector<int32_t>& partitions, std::map<int32_t, int64_t>& positions) {
    auto parts = co_await member.join();
    check("join group " + member.group_id(), parts.error());
    partitions.clear();
    positions.clear();
    for (const topic_partition& tp : *parts) partitions.push_back(tp.partition);
    auto committed = co_await member.committed(*parts);
    check("committed offsets", committed.error());
    std::vector<int32_t> fresh;
    for (const auto& [tp, offset] : *committed) {
        if (offset >= 0) {
            positions[tp.partition] = offset;
        } else {
            fresh.push_back(tp.partition);
        }
    }
    auto start = co_await resolve_offsets(ctx, o.topic, fresh, o.offset);
    positions.merge(start);
}

namespace {

// Fetches and prints until --num, or the end with --exit; a member commits its positions after
// every round and rejoins after a rebalance.
task<void> consume_loop(context& ctx, const consume_options& o,
                        const kafka::client::topic_info& info,
                        kafka::client::group_member* member, std::vector<int32_t>& partitions,
                        std::map<int32_t, int64_t>& positions) {
    int64_t consumed = 0;
    bool done = o.num && *o.num <= 0;
    while (!done) {
        std::map<int32_t, fetch_request> by_leader;
        for (int32_t p : partitions) {
            fetch_request& req = by_leader[info.partitions.at(static_cast<size_t>(p)).leader];
            req.replica_id = -1;
            req.max_wait_ms = o.exit_at_end ? 0 : 500;
            req.min_bytes = 1;
            req.max_bytes = 50 << 20;
            if (req.topics.empty()) {
                req.topics.emplace_back();
                req.topics.back().topic = o.topic;
            }
            fetch_request::fetch_partition fp;
            fp.partition = p;
            fp.fetch_offset = positions[p];
            fp.partition_max_bytes = 1 << 20;
            req.topics.back().partitions.push_back(fp);
        }
        bool at_end = true;
        for (auto& [leader, req] : by_leader) {
            auto resp = co_await ctx.client->call<fetch_request, fetch_response>(leader, req);
            check("fetch", resp.error());
            for (auto& t : resp->responses) {
                for (auto& p : t.partitions) {
                    if (p.error_code != 0) kafka_failure("fetch", p.error_code);
                    int64_t& pos = positions[p.partition_index];
                    if (p.records && !p.records->empty() && !done) {
                        auto print = [&](const wharf::client::fetched_record& f) {
                            if (done) return;
                            std::cout << format_record(o.format, o.topic, p.partition_index, f);
                            pos = f.offset + 1;
                            done = o.num && ++consumed >= *o.num;
                        };
                        int64_t next = wharf::client::for_each_record(
                            p.records->linearize(0, p.records->size()), pos, print);
                        if (!done) pos = next;
                    }
                    if (pos < p.high_watermark) at_end = false;
                }
            }
        }
        std::cout.flush();
        if (member != nullptr) {
            std::map<topic_partition, int64_t> commit;
            for (auto& [p, pos] : positions) commit[{o.topic, p}] = pos;
            auto committed = co_await member->commit(commit);
            // A rebalance (another member came or went): the commit is fenced or the heartbeat
            // says so; join again and continue from the group's committed offsets.
            bool rejoin = !committed;
            if (!rejoin) {
                auto beat = co_await member->heartbeat();
                rejoin = !beat;
            }
            if (rejoin) co_await join_group(ctx, o, *member, partitions, positions);
        }
        if (o.exit_at_end && at_end) break;
    }
}

}  // namespace

task<void> consume_command(context& ctx, const consume_options& o) {
    kafka::client::topic_info info = co_await describe_topic(ctx, o.topic);
    const auto count = static_cast<int32_t>(info.partitions.size());
    if (o.partition && (*o.partition < 0 || *o.partition >= count)) {
        throw cli_error(fmt::format("--partition {}: {} has partitions 0 to {}", *o.partition,
                                    o.topic, count - 1));
    }
    std::vector<int32_t> partitions;
    std::map<int32_t, int64_t> positions;
    if (!o.group) {
        if (o.partition) {
            partitions.push_back(*o.partition);
        } else {
            for (const auto& p : info.partitions) partitions.push_back(p.partition);
        }
        positions = co_await resolve_offsets(ctx, o.topic, partitions, o.offset);
        co_await consume_loop(ctx, o, info, nullptr, partitions, positions);
        co_return;
    }
    kafka::client::group_member member(ctx.bootstrap, "wharf-cli", *o.group,
                                       std::map<std::string, int32_t>{{o.topic, count}});
    // The member's connections must be closed before it goes, on errors as well.
    std::exception_ptr failed;
    try {
        auto started = co_await member.start();
        check("group " + *o.group, started.error());
        co_await join_group(ctx, o, member, partitions, positions);
        co_await consume_loop(ctx, o, info, &member, partitions, positions);
        co_await member.leave();
    } catch (...) {
        failed = std::current_exception();
    }
    co_await member.close();
    if (failed) std::rethrow_exception(failed);
}

}  // namespace wharf::cli
