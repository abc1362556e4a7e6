#pragma once

namespace weft {

// `weft check`: prints what this kernel and these privileges allow and which
// capture path weft will use. Returns 0 when weft can run here, 2 otherwise.
int RunCheck(bool json);

}  // namespace weft
