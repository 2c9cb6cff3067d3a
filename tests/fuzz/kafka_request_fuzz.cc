// libFuzzer target: a request frame (header + body) of any API and version from random bytes.
// Decoding must never crash, leak or over-read; whatever decodes must re-encode and decode
// again to the same message. Build: see net/README.md (CMake option WHARF_FUZZ, clang).

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"
#include "reactor/iobuf.h"

using namespace wharf;
using namespace wharf::kafka;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    iobuf frame = iobuf::copy_of(data, size);
    protocol_reader r(frame);
    request_header h;
    if (!decode_request_header(r, h)) {
        return 0;
    }
    visit_request(h.key, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (h.version < T::min_version || h.version > T::max_version) {
            return;
        }
        T body;
        if (!body.decode(r, h.version)) {
            return;
        }
        protocol_writer w;
        body.encode(w, h.version);
        iobuf again = w.release();
        protocol_reader r2(again);
        T second;
        if (!second.decode(r2, h.version) || r2.remaining() != 0 || !(second == body)) {
            std::abort();
        }
    });
    return 0;
}
