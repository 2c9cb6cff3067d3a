#include "net/http/http_types.h"

#include <utility>

namespace wharf::net::http {

response response::text(int status, std::string body) {
    return response{
        .status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

response response::json(int status, std::string body) {
    return response{.status = status, .content_type = "application/json", .body = std::move(body)};
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Unknown";
    }
}

}  // namespace wharf::net::http
