// Idempotent producers: InitProducerId (v0, v4) and the sequence checks of Produce, across a
// broker restart. A broker of its own (it is restarted).

#include <gtest/gtest.h>

#include <memory>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

init_producer_id_response init_producer(kafka_client& c, int16_t v) {
    init_producer_id_request req;
    req.transactional_id = std::nullopt;
    req.transaction_timeout_ms = 60000;
    return c.call(req, v);
}

iobuf idempotent_batch(int64_t pid, int16_t epoch, int32_t seq, int count) {
    std::vector<std::string> values;
    for (int i = 0; i < count; ++i) values.push_back("s" + std::to_string(seq + i));
    return make_batch(values, {.producer_id = pid, .producer_epoch = epoch, .base_sequence = seq});
}

TEST(idempotence, init_producer_id_gives_distinct_ids_at_epoch_zero) {
    auto& broker = shared_broker();
    kafka_client c(broker.port());
    std::set<int64_t> ids;
    for (int16_t v : {0, 1, 2, 3, 4, 0, 4}) {
        auto r = init_producer(c, v);
        EXPECT_EQ(r.error_code, 0) << "v" << v;
        EXPECT_GE(r.producer_id, 0);
        EXPECT_EQ(r.producer_epoch, 0);
        EXPECT_TRUE(ids.insert(r.producer_id).second) << "id " << r.producer_id << " twice";
    }
}

TEST(idempotence, retries_are_deduplicated_gaps_and_old_epochs_refused_across_a_restart) {
    broker_process broker;
    std::string why = broker.start();
    ASSERT_EQ(why, "");
    auto c = std::make_unique<kafka_client>(broker.port());
    std::string topic = unique_topic("idem");
    ASSERT_EQ(create_topic(*c, topic).error_code, 0);
    auto pid_resp = init_producer(*c, 4);
    ASSERT_EQ(pid_resp.error_code, 0);
    const int64_t pid = pid_resp.producer_id;

    // Six batches of two records: sequences 0, 2, ..., 10 at offsets 0, 2, ..., 10.
    std::vector<int64_t> offsets;
    for (int b = 0; b < 6; ++b) {
        auto r = produce(*c, topic, 0, idempotent_batch(pid, 0, 2 * b, 2), b % 2 == 0 ? 10 : 3);
        ASSERT_EQ(r.error_code, 0) << "batch " << b;
        offsets.push_back(r.base_offset);
        EXPECT_EQ(r.base_offset, 2 * b);
    }
    // A retry of any of the last five batches answers its original offset and writes nothing.
    for (int b = 1; b < 6; ++b) {
        auto r = produce(*c, topic, 0, idempotent_batch(pid, 0, 2 * b, 2));
        EXPECT_EQ(r.error_code, 0) << "retry of batch " << b;
        EXPECT_EQ(r.base_offset, offsets[size_t(b)]) << "retry of batch " << b;
    }
    EXPECT_EQ(list_offset(*c, topic, 0, -1).offset, 12) << "a retry was written twice";
    // The oldest batch is no longer remembered: its retry is out of order, as in Kafka.
    EXPECT_EQ(produce(*c, topic, 0, idempotent_batch(pid, 0, 0, 2)).error_code,
              err(error_code::out_of_order_sequence_number));
    // A gap in the sequence.
    EXPECT_EQ(produce(*c, topic, 0, idempotent_batch(pid, 0, 13, 1)).error_code,
              err(error_code::out_of_order_sequence_number));
    EXPECT_EQ(list_offset(*c, topic, 0, -1).offset, 12);

    // A bumped epoch starts again at sequence 0; the old epoch is fenced from then on.
    auto bumped = produce(*c, topic, 0, idempotent_batch(pid, 1, 0, 3));
    ASSERT_EQ(bumped.error_code, 0);
    EXPECT_EQ(bumped.base_offset, 12);
    EXPECT_EQ(produce(*c, topic, 0, idempotent_batch(pid, 0, 12, 1)).error_code,
              err(error_code::invalid_producer_epoch));
    EXPECT_EQ(list_offset(*c, topic, 0, -1).offset, 15);

    // After a clean restart on the same data, the state is rebuilt from the log.
    c.reset();
    ASSERT_EQ(broker.stop(), 0) << broker.output();
    why = broker.start();
    ASSERT_EQ(why, "");
    c = std::make_unique<kafka_client>(broker.port());
    auto retry = produce(*c, topic, 0, idempotent_batch(pid, 1, 0, 3));
    EXPECT_EQ(retry.error_code, 0);
    EXPECT_EQ(retry.base_offset, 12) << "the retry was not recognised after the restart";
    EXPECT_EQ(produce(*c, topic, 0, idempotent_batch(pid, 0, 12, 1)).error_code,
              err(error_code::invalid_producer_epoch));
    EXPECT_EQ(produce(*c, topic, 0, idempotent_batch(pid, 1, 7, 1)).error_code,
              err(error_code::out_of_order_sequence_number));
    auto next = produce(*c, topic, 0, idempotent_batch(pid, 1, 3, 1));
    EXPECT_EQ(next.error_code, 0);
    EXPECT_EQ(next.base_offset, 15);
    EXPECT_EQ(list_offset(*c, topic, 0, -1).offset, 16);
}

}  // namespace
}  // namespace wharf::kafka::test
