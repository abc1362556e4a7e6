#include "agent/links/async_contexts.h"

#include <algorithm>

namespace weft {

AsyncContextRegistry::AsyncContextRegistry(AsyncContextOptions options) : options_(options) {
  options_.max_generations_per_process = std::max<size_t>(options_.max_generations_per_process, 1);
}

uint64_t AsyncContextRegistry::NewGeneration(Process& process, uint64_t address,
                                             Generation generation) {
  const uint64_t id = next_id_++;
  generations_[id] = Record{generation, address};
  auto [named, inserted] = process.current.try_emplace(address, id);
  if (!inserted) {
    process.superseded.push_back(named->second);
    named->second = id;
  }
  process.order.push_back(id);
  ++process.count;
  const size_t cap = options_.max_generations_per_process;
  while (process.count > cap) EvictOne(process);
  // `order` keeps ids forgotten out of turn; drop them now and then.
  if (process.order.size() > 2 * cap) {
    std::erase_if(process.order, [this](uint64_t g) { return !generations_.contains(g); });
  }
  return id;
}

void AsyncContextRegistry::EvictOne(Process& process) {
  // A superseded context was freed (CPython reused its address): nothing
  // sends from it any more. A current one may be a long request's task.
  while (!process.superseded.empty()) {
    const uint64_t oldest = process.superseded.front();
    process.superseded.pop_front();
    if (Forget(process, oldest)) return;
  }
  while (!process.order.empty()) {
    const uint64_t oldest = process.order.front();
    process.order.pop_front();
    if (Forget(process, oldest)) return;
  }
}

bool AsyncContextRegistry::Forget(Process& process, uint64_t generation) {
  auto record = generations_.find(generation);
  if (record == generations_.end()) return false;
  auto named = process.current.find(record->second.address);
  if (named != process.current.end() && named->second == generation) {
    process.current.erase(named);
    ++stats_.evicted_current;
  }
  generations_.erase(record);
  --process.count;
  ++stats_.evicted;
  return true;
}

void AsyncContextRegistry::OnCopy(const AsyncContextEvent& event) {
  if (event.child == 0) return;
  ++stats_.copies;
  const uint64_t parent = Current(event.tgid, event.parent);
  // Current() may have inserted the process; look it up after.
  Process& process = processes_[event.tgid];
  NewGeneration(process, event.child, Generation{parent, event.timestamp_ns, /*tracked=*/true});
}

uint64_t AsyncContextRegistry::Current(uint32_t tgid, uint64_t address) {
  if (address == 0) return 0;
  Process& process = processes_[tgid];
  if (auto it = process.current.find(address); it != process.current.end()) return it->second;
  ++stats_.untracked;
  return NewGeneration(process, address, Generation{});
}

const AsyncContextRegistry::Generation* AsyncContextRegistry::Find(uint64_t generation) const {
  auto it = generations_.find(generation);
  return it == generations_.end() ? nullptr : &it->second.generation;
}

void AsyncContextRegistry::TrackedLineage(uint64_t generation, int max_ancestors,
                                          std::vector<uint64_t>* out) const {
  for (int depth = 0; generation != 0 && depth <= max_ancestors; ++depth) {
    const Generation* g = Find(generation);
    if (g == nullptr) return;
    if (g->tracked) out->push_back(generation);
    generation = g->parent;
  }
}

void AsyncContextRegistry::ForgetProcess(uint32_t tgid) {
  auto it = processes_.find(tgid);
  if (it == processes_.end()) return;
  for (uint64_t generation : it->second.order) generations_.erase(generation);
  processes_.erase(it);
  ++stats_.processes_forgotten;
}

}  // namespace weft
