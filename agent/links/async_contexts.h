// Which asyncio context sent a byte, as a stable id.
//
// The kernel reports CPython contexts by address: each DataEvent of a known
// CPython process carries the sending thread's current contextvars.Context,
// and an AsyncContextEvent reports every copy (a new asyncio Task gets a copy
// of its creator's context). CPython reuses freed Context objects, so an
// address alone may name several contexts over time. The registry turns
// addresses into *generations*: every copy event starts a new generation of
// the child address, and a generation remembers the generation it was copied
// from and when. Generation ids are unique across processes and never reused.
//
// An address first met in a DataEvent, or as the source of a copy, gets an
// *untracked* generation: weft did not see it being created, so its creation
// time and ancestry are unknown and it can never prove anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/events/event.h"

namespace weft {

struct AsyncContextOptions {
  // Generations remembered per process. Beyond this, the oldest whose address
  // was reused (their context was freed) are forgotten first, then the
  // oldest of all (an in-flight request whose task was forgotten is simply
  // not linked).
  size_t max_generations_per_process = 16384;
};

struct AsyncContextStats {
  uint64_t copies = 0;               // copy events seen (tracked generations created)
  uint64_t untracked = 0;            // generations for addresses never seen being created
  uint64_t evicted = 0;              // oldest generations forgotten (per-process cap)
  uint64_t evicted_current = 0;      // of those, still named by their address (maybe in use)
  uint64_t processes_forgotten = 0;  // processes dropped when they exited
};

class AsyncContextRegistry {
 public:
  struct Generation {
    uint64_t parent = 0;      // generation it was copied from (0: none known)
    uint64_t created_ns = 0;  // monotonic time of the copy event (tracked only)
    bool tracked = false;     // created by a copy event weft saw
  };

  explicit AsyncContextRegistry(AsyncContextOptions options = {});

  // `child` names a new context copied from `parent` from now on.
  void OnCopy(const AsyncContextEvent& event);
  // The generation `address` names now in `tgid` (0 for address 0).
  uint64_t Current(uint32_t tgid, uint64_t address);
  // Null when the generation was never made or was forgotten.
  const Generation* Find(uint64_t generation) const;
  // Appends `generation` and up to `max_ancestors` of its ancestors, nearest
  // first, keeping only tracked ones: the generations that can ever be shown
  // to be a request's own task.
  void TrackedLineage(uint64_t generation, int max_ancestors, std::vector<uint64_t>* out) const;
  // The process exited: its addresses mean nothing any more.
  void ForgetProcess(uint32_t tgid);

  const AsyncContextStats& stats() const { return stats_; }
  size_t generation_count() const { return generations_.size(); }

 private:
  struct Record {
    Generation generation;
    uint64_t address = 0;
  };
  struct Process {
    absl::flat_hash_map<uint64_t, uint64_t> current;  // address -> generation
    // Every generation, oldest first (may list forgotten ones).
    std::deque<uint64_t> order;
    // Generations whose address names a newer one, oldest first.
    std::deque<uint64_t> superseded;
    size_t count = 0;  // generations remembered
  };

  uint64_t NewGeneration(Process& process, uint64_t address, Generation generation);
  void EvictOne(Process& process);
  // False when `generation` was forgotten already.
  bool Forget(Process& process, uint64_t generation);

  AsyncContextOptions options_;
  absl::flat_hash_map<uint32_t, Process> processes_;
  absl::flat_hash_map<uint64_t, Record> generations_;
  uint64_t next_id_ = 1;
  AsyncContextStats stats_;
};

}  // namespace weft
