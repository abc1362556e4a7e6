#include "agent/nodejs/inspector_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace weft::nodejs {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Runs one asynchronous operation to completion on `io`: the stream's expiry
// (set by the caller) cancels it if it takes too long.
template <typename Start>
absl::Status RunOne(asio::io_context& io, absl::string_view what, Start start) {
  bool done = false;
  beast::error_code result;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  io.run();
  if (!done) return absl::DeadlineExceededError(absl::StrCat(what, ": did not complete"));
  if (result == beast::error::timeout) {
    return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
  }
  if (result) return absl::UnavailableError(absl::StrCat(what, ": ", result.message()));
  return absl::OkStatus();
}

tcp::endpoint Loopback(uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }

// The path of the first target's WebSocket URL, from GET /json/list.
void Report(const OnConnection& on_connection, const tcp::socket& socket) {
  if (!on_connection) return;
  beast::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (!ec) on_connection(local.port());
}

absl::StatusOr<std::string> DebuggerPath(asio::io_context& io, uint16_t port,
                                         absl::Duration timeout,
                                         const OnConnection& on_connection) {
  beast::tcp_stream stream(io);
  stream.expires_after(ToChrono(timeout));
  if (auto st = RunOne(io, "connecting to the inspector",
                       [&](auto h) { stream.async_connect(Loopback(port), h); });
      !st.ok()) {
    return st;
  }
  Report(on_connection, stream.socket());
  http::request<http::empty_body> request{http::verb::get, "/json/list", 11};
  request.set(http::field::host, absl::StrCat("127.0.0.1:", port));
  stream.expires_after(ToChrono(timeout));
  if (auto st = RunOne(io, "asking the inspector for its targets",
                       [&](auto h) { http::async_write(stream, request, h); });
      !st.ok()) {
    return st;
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  stream.expires_after(ToChrono(timeout));
  if (auto st = RunOne(io, "reading the inspector's targets",
                       [&](auto h) { http::async_read(stream, buffer, response, h); });
      !st.ok()) {
    return st;
  }
  if (response.result() != http::status::ok) {
    return absl::UnavailableError(absl::StrCat("GET /json/list answered ", response.result_int(),
                                               ": not a Node.js inspector"));
  }
  auto targets = nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
  if (!targets.is_array() || targets.empty() || !targets[0].is_object() ||
      !targets[0].contains("webSocketDebuggerUrl") ||
      !targets[0]["webSocketDebuggerUrl"].is_string()) {
    return absl::UnavailableError("GET /json/list named no target: not a Node.js inspector");
  }
  const std::string url = targets[0]["webSocketDebuggerUrl"];
  // ws://127.0.0.1:9229/<uuid>
  const size_t scheme = url.find("://");
  const size_t path = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (!absl::StartsWith(url, "ws://") || path == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("unexpected debugger URL ", url));
  }
  return url.substr(path);
}

}  // namespace

struct InspectorClient::Session {
  explicit Session(absl::Duration t) : timeout(t), ws(io) {}
  absl::Duration timeout;
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws;

  absl::Status Send(const std::string& text) {
    beast::get_lowest_layer(ws).expires_after(ToChrono(timeout));
    return RunOne(io, "sending to the inspector",
                  [&](auto h) { ws.async_write(asio::buffer(text), h); });
  }

  // The answer to request `id`, skipping any protocol events before it.
  absl::StatusOr<nlohmann::json> Answer(int id) {
    for (int skipped = 0; skipped < 64; ++skipped) {
      beast::flat_buffer buffer;
      beast::get_lowest_layer(ws).expires_after(ToChrono(timeout));
      if (auto st = RunOne(io, "reading the inspector's answer",
                           [&](auto h) { ws.async_read(buffer, h); });
          !st.ok()) {
        return st;
      }
      auto message = nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
      if (message.is_object() && message.value("id", -1) == id) return message;
    }
    return absl::UnavailableError("the inspector never answered");
  }
};

InspectorClient::InspectorClient(std::unique_ptr<Session> session) : session_(std::move(session)) {}

InspectorClient::~InspectorClient() {
  beast::error_code ignored;
  beast::get_lowest_layer(session_->ws).socket().close(ignored);
}

absl::StatusOr<std::unique_ptr<InspectorClient>> InspectorClient::Connect(
    uint16_t port, absl::Duration timeout, const OnConnection& on_connection) {
  auto session = std::make_unique<Session>(timeout);
  auto path = DebuggerPath(session->io, port, timeout, on_connection);
  if (!path.ok()) return path.status();
  auto& lowest = beast::get_lowest_layer(session->ws);
  lowest.expires_after(ToChrono(timeout));
  if (auto st = RunOne(session->io, "connecting to the inspector's WebSocket",
                       [&](auto h) { lowest.async_connect(Loopback(port), h); });
      !st.ok()) {
    return st;
  }
  Report(on_connection, lowest.socket());
  // The inspector closes the connection on a fragmented message: each one
  // goes out as a single frame.
  session->ws.auto_fragment(false);
  session->ws.text(true);
  lowest.expires_after(ToChrono(timeout));
  const std::string host = absl::StrCat("127.0.0.1:", port);
  if (auto st = RunOne(session->io, "the inspector's WebSocket handshake",
                       [&](auto h) { session->ws.async_handshake(host, *path, h); });
      !st.ok()) {
    return st;
  }
  return std::unique_ptr<InspectorClient>(new InspectorClient(std::move(session)));
}

absl::StatusOr<nlohmann::json> InspectorClient::Evaluate(const std::string& expression) {
  const int id = next_id_++;
  nlohmann::json request = {{"id", id},
                            {"method", "Runtime.evaluate"},
                            {"params",
                             {{"expression", expression},
                              {"includeCommandLineAPI", true},
                              {"returnByValue", true},
                              {"silent", true}}}};
  if (auto st = session_->Send(request.dump()); !st.ok()) return st;
  auto answer = session_->Answer(id);
  if (!answer.ok()) return answer.status();
  if (answer->contains("error")) {
    return absl::InternalError(absl::StrCat("the inspector refused: ", (*answer)["error"].dump()));
  }
  const auto& result = (*answer)["result"];
  if (result.contains("exceptionDetails")) {
    const auto& details = result["exceptionDetails"];
    std::string text = details.value("text", "exception");
    if (details.contains("exception") && details["exception"].contains("description")) {
      text = details["exception"]["description"].get<std::string>();
    }
    return absl::InternalError(absl::StrCat("the program threw: ", text));
  }
  if (!result.contains("result")) return nlohmann::json();
  return result["result"].value("value", nlohmann::json());
}

absl::Status InspectorClient::EvaluateAndLeave(const std::string& expression) {
  nlohmann::json request = {{"id", next_id_++},
                            {"method", "Runtime.evaluate"},
                            {"params", {{"expression", expression}, {"silent", true}}}};
  return session_->Send(request.dump());
}

bool LoopbackPortAccepts(uint16_t port, absl::Duration timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(ToChrono(timeout));
  return RunOne(io, "connect", [&](auto h) { stream.async_connect(Loopback(port), h); }).ok();
}

}  // namespace weft::nodejs
