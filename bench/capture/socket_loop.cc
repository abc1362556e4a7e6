// A tight loop of small socket writes and reads over loopback TCP: the
// workload for measuring what weft's probes cost a process (traced or not).
// Usage: weft-bench-socket-loop <iterations> [--wait]
// --wait: print "ready <pid>" and wait for a line on stdin before looping,
// so weft can be attached first. Prints "ns_per_iteration <wall> <cpu>": the
// CPU time (user + system, which includes the probes run in this process's
// context) does not count time the loop waited for a core, so it is the
// steadier figure on a machine shared with other load.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <iterations> [--wait]\n", argv[0]);
    return 2;
  }
  long iterations = std::atol(argv[1]);
  bool wait = argc > 2 && std::string(argv[2]) == "--wait";

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  listen(listener, 1);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  int server = accept(listener, nullptr, nullptr);
  int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  if (wait) {
    std::printf("ready %d\n", getpid());
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);
  }
  char msg[64];
  std::memset(msg, 'x', sizeof(msg));
  char buf[256];
  timespec cpu_start{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (write(client, msg, sizeof(msg)) != sizeof(msg)) Die("write");
    ssize_t got = 0;
    while (got < static_cast<ssize_t>(sizeof(msg))) {
      ssize_t n = read(server, buf, sizeof(buf));
      if (n <= 0) Die("read");
      got += n;
    }
  }
  auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
  timespec cpu_end{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
  double cpu_ns = (cpu_end.tv_sec - cpu_start.tv_sec) * 1e9 + (cpu_end.tv_nsec - cpu_start.tv_nsec);
  std::printf("ns_per_iteration %.1f %.1f\n", ns.count() / iterations, cpu_ns / iterations);
  close(client);
  close(server);
  close(listener);
  return 0;
}
