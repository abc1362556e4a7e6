// The agent's side of the kernel's traced-process filter (WEFT_TRACED_SLOTS
// in bpf/capture.h): the same compare-and-swap rules as the BPF programs'
// traced_slot_add / traced_slot_mark / traced_slot_remove, on a slot of the
// skeleton's mapped .bss. Pure functions over one 64-bit word, so the rules
// are tested without a kernel.
#ifndef WEFT_AGENT_PROBES_TRACED_SLOTS_H_
#define WEFT_AGENT_PROBES_TRACED_SLOTS_H_

#include <cstdint>

#include "bpf/capture.h"

namespace weft {

// Does `value` say tgid holds its slot alone? (tgid 0 never does: an empty
// slot is 0.)
inline bool SlotHeldBy(uint64_t value, uint32_t tgid) {
  return (value & WEFT_SLOT_TGID_MASK) == tgid && tgid != 0;
}

// tgid starts being traced: it takes the empty slot, keeps a slot it holds
// already (with its bits), or makes a slot another process holds shared.
inline void ClaimTracedSlot(uint64_t* slot, uint32_t tgid) {
  uint64_t expected = 0;
  if (!__atomic_compare_exchange_n(slot, &expected, uint64_t{tgid}, false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST) &&
      !SlotHeldBy(expected, tgid)) {
    __atomic_store_n(slot, WEFT_TRACED_SLOT_SHARED, __ATOMIC_SEQ_CST);
  }
}

// tgid may now be in the map behind WEFT_SLOT_MAY_* bit `may`; call before
// adding its entry there. Only a slot tgid holds alone carries bits (a
// shared one has them all).
inline void MarkTracedSlot(uint64_t* slot, uint32_t tgid, uint64_t may) {
  uint64_t seen = __atomic_load_n(slot, __ATOMIC_SEQ_CST);
  while (SlotHeldBy(seen, tgid) && !(seen & may)) {
    if (__atomic_compare_exchange_n(slot, &seen, seen | may, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      return;
    }
  }
}

// tgid stops being traced: its slot is emptied if it held it alone (bits
// and all); a shared slot stays shared.
inline void ReleaseTracedSlot(uint64_t* slot, uint32_t tgid) {
  uint64_t seen = __atomic_load_n(slot, __ATOMIC_SEQ_CST);
  while (SlotHeldBy(seen, tgid) &&
         !__atomic_compare_exchange_n(slot, &seen, uint64_t{0}, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
  }
}

}  // namespace weft

#endif  // WEFT_AGENT_PROBES_TRACED_SLOTS_H_
