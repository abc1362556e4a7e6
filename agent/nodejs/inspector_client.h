// A client of the Node.js inspector: the Chrome DevTools protocol over a
// WebSocket on 127.0.0.1:<port> of the calling thread's network namespace,
// just enough to evaluate an expression in the program and read its value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weft::nodejs {

// Called with the local port of each connection the client opens, before
// any byte is sent on it (weft traces the inspector's process: its own
// connections are not the program's traffic).
using OnConnection = std::function<void(uint16_t local_port)>;

class InspectorClient {
 public:
  // Asks the inspector for its target (GET /json/list) and opens that
  // target's WebSocket. Every step, here and in Evaluate, ends within
  // `timeout` or fails.
  static absl::StatusOr<std::unique_ptr<InspectorClient>> Connect(
      uint16_t port, absl::Duration timeout, const OnConnection& on_connection = {});
  ~InspectorClient();
  InspectorClient(const InspectorClient&) = delete;
  InspectorClient& operator=(const InspectorClient&) = delete;

  // Runtime.evaluate with the command-line API (so `require` works in any
  // program, CommonJS or ESM) and the value returned by value. An error when
  // the expression throws, with the exception's description.
  absl::StatusOr<nlohmann::json> Evaluate(const std::string& expression);

  // Sends Runtime.evaluate without waiting for the answer: for an expression
  // that closes the inspector (and this connection) as it runs.
  absl::Status EvaluateAndLeave(const std::string& expression);

 private:
  struct Session;
  explicit InspectorClient(std::unique_ptr<Session> session);
  std::unique_ptr<Session> session_;
  int next_id_ = 1;
};

// Whether something accepts TCP connections on 127.0.0.1:port of the calling
// thread's network namespace (a connect within `timeout`).
bool LoopbackPortAccepts(uint16_t port, absl::Duration timeout);

}  // namespace weft::nodejs
