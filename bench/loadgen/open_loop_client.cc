// A fixed-rate (open-loop) HTTP/1.1 GET client for latency benchmarks.
//
// Request i is due at start + i / rate whether or not earlier requests have
// been answered; its latency runs from that due time to the last byte of its
// response. A closed-loop client (wrk, hey -q) waits for answers before
// sending more, so a slow server slows the client down and hides its own
// queueing delay ("coordinated omission"); measuring from the due time does
// not. Requests due while every connection is busy wait in a backlog and are
// charged that wait.
//
// Usage: weft-bench-open-loop --port P [--host 127.0.0.1] [--path /] --rate R
//          [--duration S] [--warmup S] [--connections N]
// Prints one JSON object on stdout: counts and latency percentiles in
// microseconds of the requests due after the warm-up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  double rate = 1000;
  double duration_s = 10;
  double warmup_s = 1;
  int connections = 32;
};

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

bool ParseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--host") {
      options.host = value;
    } else if (flag == "--port") {
      options.port = std::atoi(value);
    } else if (flag == "--path") {
      options.path = value;
    } else if (flag == "--rate") {
      options.rate = std::atof(value);
    } else if (flag == "--duration") {
      options.duration_s = std::atof(value);
    } else if (flag == "--warmup") {
      options.warmup_s = std::atof(value);
    } else if (flag == "--connections") {
      options.connections = std::atoi(value);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && options.port > 0 && options.rate > 0 && options.connections > 0;
}

// One keep-alive connection with at most one request in flight.
struct Connection {
  UniqueFd fd;
  bool busy = false;
  Clock::time_point due;  // when the in-flight request was due
  bool measured = false;  // due after the warm-up
  std::string received;
};

// Returns true once `received` holds one complete response (headers plus
// Content-Length bytes of body); sets `ok` to whether it was a 2xx.
bool ResponseComplete(const std::string& received, bool& ok) {
  size_t header_end = received.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  size_t content_length = 0;
  size_t line = received.find("\r\n") + 2;
  while (line < header_end) {
    size_t next = received.find("\r\n", line);
    constexpr std::string_view kName = "content-length:";
    if (next - line > kName.size() &&
        strncasecmp(received.data() + line, kName.data(), kName.size()) == 0) {
      content_length = std::strtoul(received.data() + line + kName.size(), nullptr, 10);
    }
    line = next + 2;
  }
  if (received.size() < header_end + 4 + content_length) return false;
  ok = received.compare(0, 10, "HTTP/1.1 2") == 0;
  return true;
}

UniqueFd Connect(const Options& options) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM, 0));
  if (fd.get() < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) Die("inet_pton");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

double Percentile(const std::vector<int64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  size_t index = std::min(sorted_ns.size() - 1, static_cast<size_t>(p * sorted_ns.size()));
  return sorted_ns[index] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: %s --port P [--host H] [--path /] --rate R [--duration S] "
                 "[--warmup S] [--connections N]\n",
                 argv[0]);
    return 2;
  }
  const std::string request =
      "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host + "\r\n\r\n";

  UniqueFd epoll(epoll_create1(0));
  if (epoll.get() < 0) Die("epoll_create1");
  std::vector<Connection> connections(options.connections);
  std::vector<size_t> idle;
  for (size_t i = 0; i < connections.size(); ++i) {
    connections[i].fd = Connect(options);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, connections[i].fd.get(), &event) != 0) {
      Die("epoll_ctl");
    }
    idle.push_back(i);
  }

  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / options.rate);
  const auto warmup_end = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.warmup_s));
  const auto total = static_cast<uint64_t>(options.rate * (options.warmup_s + options.duration_s));
  auto due_time = [&](uint64_t i) {
    return start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
  };

  uint64_t next_request = 0;
  std::deque<Clock::time_point> backlog;  // due times waiting for a free connection
  std::vector<int64_t> latencies_ns;
  latencies_ns.reserve(total);
  uint64_t sent = 0, completed = 0, errors = 0, max_backlog = 0;
  char buffer[16384];
  std::vector<epoll_event> events(connections.size());

  auto send_on_idle = [&](Clock::time_point due) {
    size_t index = idle.back();
    idle.pop_back();
    Connection& connection = connections[index];
    connection.busy = true;
    connection.due = due;
    connection.measured = due >= warmup_end;
    connection.received.clear();
    if (send(connection.fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      Die("send");
    }
    ++sent;
  };

  // Runs until every due request is answered; a server that stops answering
  // ends the run after a grace period, counting the unanswered as errors.
  const auto deadline = due_time(total) + std::chrono::seconds(5);
  while (completed + errors < total) {
    auto now = Clock::now();
    if (now > deadline) {
      errors += total - completed - errors;
      break;
    }
    while (next_request < total && due_time(next_request) <= now) {
      backlog.push_back(due_time(next_request++));
    }
    max_backlog = std::max<uint64_t>(max_backlog, backlog.size());
    while (!backlog.empty() && !idle.empty()) {
      send_on_idle(backlog.front());
      backlog.pop_front();
    }
    timespec timeout{0, 1'000'000};
    if (next_request < total) {
      auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(due_time(next_request) -
                                                                       Clock::now());
      int64_t ns = std::max<int64_t>(0, wait.count());
      timeout = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    }
    int ready = epoll_pwait2(epoll.get(), events.data(), static_cast<int>(events.size()), &timeout,
                             nullptr);
    if (ready < 0) {
      if (errno == EINTR) continue;
      Die("epoll_pwait2");
    }
    for (int e = 0; e < ready; ++e) {
      size_t index = events[e].data.u64;
      Connection& connection = connections[index];
      ssize_t n = recv(connection.fd.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) Die("recv (server closed the connection?)");
      connection.received.append(buffer, static_cast<size_t>(n));
      bool ok = false;
      if (!connection.busy || !ResponseComplete(connection.received, ok)) continue;
      auto done = Clock::now();
      connection.busy = false;
      idle.push_back(index);
      if (!ok) {
        ++errors;
        continue;
      }
      ++completed;
      if (connection.measured) latencies_ns.push_back((done - connection.due).count());
    }
  }
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::sort(latencies_ns.begin(), latencies_ns.end());
  std::printf(
      "{\"rate\": %.1f, \"sent\": %lu, \"completed\": %lu, \"errors\": %lu, \"measured\": %zu, "
      "\"achieved_rate\": %.1f, \"max_backlog\": %lu, \"p50_us\": %.1f, \"p90_us\": %.1f, "
      "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f}\n",
      options.rate, sent, completed, errors, latencies_ns.size(), completed / elapsed_s,
      max_backlog, Percentile(latencies_ns, 0.50), Percentile(latencies_ns, 0.90),
      Percentile(latencies_ns, 0.99), Percentile(latencies_ns, 0.999),
      latencies_ns.empty() ? 0.0 : latencies_ns.back() / 1000.0);
  return errors == 0 ? 0 : 1;
}
