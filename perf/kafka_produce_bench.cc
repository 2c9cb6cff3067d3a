// kafka_produce_bench: the first produce load generator, built on librdkafka (the client most
// Kafka users benchmark with). Sends fixed-size records to one topic for a duration, at an
// unlimited or fixed rate, and reports throughput (MB/s, records/s) and produce latency
// percentiles (from produce() to the delivery report, which arrives after the broker's ack).
// It speaks plain Kafka, so it measures any Kafka-compatible broker. The full tool with workload
// files and reports is `wharf bench` (its own issue).
//
//   kafka_produce_bench --brokers 127.0.0.1:9092 --topic bench --record-bytes 1024 --acks all
//       --duration 10 [--rate 50000] [--warmup 2s] [--linger-ms 1] [--sticky-linger-ms 0] [--json]

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string brokers = "127.0.0.1:9092";
    std::string topic = "bench";
    size_t record_bytes = 1024;
    std::string acks = "all";
    double duration_s = 10;
    double warmup_s = 2;
    double rate = 0;  // records/s; 0 = as fast as possible
    int linger_ms = 1;
    int batch_bytes = 1 << 20;
    int sticky_linger_ms = -1;  // librdkafka's default (10 ms) when negative
    bool json = false;
};

struct stats {
    uint64_t acked = 0;
    uint64_t failed = 0;
    uint64_t bytes = 0;
    std::vector<uint32_t> latencies_us;  // of records sent after the warm-up
    clock_type::time_point measure_from;
    clock_type::time_point measure_to = clock_type::time_point::max();
    // Acknowledgements that arrived inside [measure_from, measure_to), whenever their records
    // were sent: the broker's acknowledged rate over the window, which the sent rate is not
    // (librdkafka buffers up to 1M records).
    uint64_t window_acked = 0;
    uint64_t window_acked_bytes = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<stats*>(opaque);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (s->failed++ < 5)
            std::fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        return;
    }
    auto sent =
        clock_type::time_point(clock_type::duration(reinterpret_cast<intptr_t>(m->_private)));
    if (auto now = clock_type::now(); now >= s->measure_from && now < s->measure_to) {
        ++s->window_acked;
        s->window_acked_bytes += m->len;
    }
    if (sent < s->measure_from) return;
    ++s->acked;
    s->bytes += m->len;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - sent);
    s->latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us.count(), UINT32_MAX)));
}

rd_kafka_t* make_producer(const options& o, stats* s) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const char* k, const std::string& v) {
        if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "%s\n", err);
            std::exit(2);
        }
    };
    set("bootstrap.servers", o.brokers);
    set("acks", o.acks);
    set("linger.ms", std::to_string(o.linger_ms));
    set("batch.size", std::to_string(o.batch_bytes));
    set("queue.buffering.max.kbytes", "1048576");
    set("queue.buffering.max.messages", "1000000");
    if (o.sticky_linger_ms >= 0)
        set("sticky.partitioning.linger.ms", std::to_string(o.sticky_linger_ms));
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == nullptr) {
        std::fprintf(stderr, "cannot create producer: %s\n", err);
        std::exit(2);
    }
    return rk;
}

double percentile(std::vector<uint32_t>& v, double p) {
    if (v.empty()) return 0;
    size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * double(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"Produce load generator over librdkafka"};
    app.add_option("--brokers", o.brokers, "Bootstrap servers");
    app.add_option("--topic", o.topic, "Topic (auto-created by the broker or created before)");
    app.add_option("--record-bytes", o.record_bytes, "Value size of each record");
    app.add_option("--acks", o.acks, "0, 1 or all")->check(CLI::IsMember({"0", "1", "all", "-1"}));
    app.add_option("--duration", o.duration_s, "Measured seconds");
    app.add_option("--warmup", o.warmup_s, "Seconds sent before measuring");
    app.add_option("--rate", o.rate, "Records per second (0: unlimited)");
    app.add_option("--linger-ms", o.linger_ms, "librdkafka linger.ms");
    app.add_option("--batch-bytes", o.batch_bytes, "librdkafka batch.size");
    app.add_option("--sticky-linger-ms", o.sticky_linger_ms,
                   "librdkafka sticky.partitioning.linger.ms: how long keyless records stay on "
                   "one partition (default 10); 0 sends each to a random partition")
        ->check(CLI::Range(0, 900000));
    app.add_flag("--json", o.json, "Print one JSON object");
    CLI11_PARSE(app, argc, argv);

    stats s;
    s.latencies_us.reserve(1 << 22);
    rd_kafka_t* rk = make_producer(o, &s);
    std::vector<char> value(o.record_bytes, 'w');
    auto start = clock_type::now();
    s.measure_from = start + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(o.warmup_s));
    auto end = s.measure_from + std::chrono::duration_cast<clock_type::duration>(
                                    std::chrono::duration<double>(o.duration_s));
    s.measure_to = end;
    uint64_t sent = 0;
    for (auto now = start; now < end; now = clock_type::now()) {
        if (o.rate > 0) {
            // Fixed rate: record i is due at start + i / rate; latency counts from when it was
            // due, so a stalled broker cannot hide its delay (coordinated omission).
            auto due = start + std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(double(sent) / o.rate));
            if (due > now) {
                rd_kafka_poll(rk, 0);
                if (due - now > std::chrono::microseconds(200)) {
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                }
                continue;
            }
            now = due;
        }
        auto stamp = reinterpret_cast<void*>(static_cast<intptr_t>(now.time_since_epoch().count()));
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(o.topic.c_str()), RD_KAFKA_V_VALUE(value.data(), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(stamp), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(stderr, "produce failed: %s\n", rd_kafka_err2str(e));
            return 1;
        }
        ++sent;
        if (sent % 64 == 0) rd_kafka_poll(rk, 0);
    }
    auto measured_end = clock_type::now();
    rd_kafka_flush(rk, 60000);
    rd_kafka_destroy(rk);

    double secs = std::chrono::duration<double>(measured_end - s.measure_from).count();
    double mbps = double(s.bytes) / secs / 1e6;
    double rps = double(s.acked) / secs;
    double p50 = percentile(s.latencies_us, 50), p99 = percentile(s.latencies_us, 99);
    double p999 = percentile(s.latencies_us, 99.9);
    if (o.json) {
        fmt::print(
            "{{\"acks\":\"{}\",\"record_bytes\":{},\"rate\":{},\"records_per_s\":{:.0f},"
            "\"mb_per_s\":{:.1f},\"p50_ms\":{:.2f},\"p99_ms\":{:.2f},\"p999_ms\":{:.2f},"
            "\"acked_records_per_s\":{:.0f},\"acked_mb_per_s\":{:.1f},\"failed\":{}}}\n",
            o.acks, o.record_bytes, o.rate, rps, mbps, p50, p99, p999,
            double(s.window_acked) / secs, double(s.window_acked_bytes) / secs / 1e6, s.failed);
    } else {
        fmt::print(
            "acks={} {} B records: {:.0f} records/s, {:.1f} MB/s sent; {:.1f} MB/s "
            "acknowledged in the window; latency p50 {:.2f} ms, p99 {:.2f} ms, p99.9 "
            "{:.2f} ms; {} failed\n",
            o.acks, o.record_bytes, rps, mbps, double(s.window_acked_bytes) / secs / 1e6, p50, p99,
            p999, s.failed);
    }
    return s.failed == 0 ? 0 : 1;
}
