// Pins the kernel/user ABI of bpf/capture.h: the BPF object and the agent are
// compiled separately, so any layout drift must fail here, not in production.
#include <cstddef>

#include "bpf/capture.h"
#include "bpf/node_async.h"
#include "bpf/py_async.h"
#include "gtest/gtest.h"

namespace {

TEST(CaptureAbi, TraceContextLayout) {
  EXPECT_EQ(sizeof(weft_trace_context), 40u);
  EXPECT_EQ(offsetof(weft_trace_context, trace_id), 0u);
  EXPECT_EQ(offsetof(weft_trace_context, span_id), 16u);
  EXPECT_EQ(offsetof(weft_trace_context, parent_span_id), 24u);
  EXPECT_EQ(offsetof(weft_trace_context, trace_flags), 32u);
  EXPECT_EQ(offsetof(weft_trace_context, link_source), 33u);
  EXPECT_EQ(offsetof(weft_trace_context, starts_span), 34u);
}

TEST(NodeAsyncAbi, RequestKeyAndSignalFormat) {
  EXPECT_EQ(sizeof(weft_node_request_key), 16u);
  EXPECT_EQ(offsetof(weft_node_request_key, tgid), 0u);
  EXPECT_EQ(offsetof(weft_node_request_key, token), 8u);
  // The hook (agent/nodejs/weft_node_agent.js) writes this prefix.
  EXPECT_EQ(sizeof(WEFT_NODE_SIGNAL_PREFIX) - 1, size_t{WEFT_NODE_SIGNAL_PREFIX_LEN});
  // The longest message fits what the probe reads, with its NUL.
  EXPECT_LE(sizeof(WEFT_NODE_SIGNAL_PREFIX "r/99999999999999999/2147483647/2147483647"),
            size_t{WEFT_NODE_SIGNAL_MAX});
}

TEST(CaptureAbi, TupleLayout) {
  EXPECT_EQ(sizeof(weft_tuple), 40u);
  EXPECT_EQ(offsetof(weft_tuple, local_addr), 0u);
  EXPECT_EQ(offsetof(weft_tuple, remote_addr), 16u);
  EXPECT_EQ(offsetof(weft_tuple, local_port), 32u);
  EXPECT_EQ(offsetof(weft_tuple, remote_port), 34u);
  EXPECT_EQ(offsetof(weft_tuple, family), 36u);
}

TEST(CaptureAbi, HeaderLayout) {
  EXPECT_EQ(sizeof(weft_event_header), 24u);
  EXPECT_EQ(offsetof(weft_event_header, timestamp_ns), 0u);
  EXPECT_EQ(offsetof(weft_event_header, tgid), 8u);
  EXPECT_EQ(offsetof(weft_event_header, tid), 12u);
  EXPECT_EQ(offsetof(weft_event_header, kind), 16u);
}

TEST(CaptureAbi, DataEventLayout) {
  EXPECT_EQ(sizeof(weft_data_event), 144u);
  EXPECT_EQ(offsetof(weft_data_event, header), 0u);
  EXPECT_EQ(offsetof(weft_data_event, conn_id), 24u);
  EXPECT_EQ(offsetof(weft_data_event, fd), 32u);
  EXPECT_EQ(offsetof(weft_data_event, seq), 36u);
  EXPECT_EQ(offsetof(weft_data_event, total_len), 40u);
  EXPECT_EQ(offsetof(weft_data_event, captured_len), 44u);
  EXPECT_EQ(offsetof(weft_data_event, direction), 48u);
  EXPECT_EQ(offsetof(weft_data_event, role), 49u);
  EXPECT_EQ(offsetof(weft_data_event, source), 50u);
  EXPECT_EQ(offsetof(weft_data_event, flags), 51u);
  EXPECT_EQ(offsetof(weft_data_event, tuple), 56u);
  EXPECT_EQ(offsetof(weft_data_event, context), 96u);
  EXPECT_EQ(offsetof(weft_data_event, async_context), 136u);
  EXPECT_EQ(offsetof(weft_data_event, data), 144u);
}

TEST(CaptureAbi, CloseAndProcessEventLayout) {
  EXPECT_EQ(sizeof(weft_close_event), 96u);
  EXPECT_EQ(offsetof(weft_close_event, conn_id), 24u);
  EXPECT_EQ(offsetof(weft_close_event, role), 32u);
  EXPECT_EQ(offsetof(weft_close_event, reset), 33u);
  EXPECT_EQ(offsetof(weft_close_event, tuple), 40u);
  EXPECT_EQ(offsetof(weft_close_event, bytes_sent), 80u);
  EXPECT_EQ(offsetof(weft_close_event, bytes_received), 88u);
  EXPECT_EQ(sizeof(weft_process_event), 32u);
  EXPECT_EQ(offsetof(weft_process_event, parent_tgid), 24u);
  EXPECT_EQ(offsetof(weft_process_event, exit_code), 28u);
}

TEST(CaptureAbi, GoProcessLayout) {
  // go_processes values the agent writes (agent/probes/go_probes.cc).
  EXPECT_EQ(sizeof(weft_go_process), 8u);
  EXPECT_EQ(offsetof(weft_go_process, g_tls_offset), 0u);
}

TEST(CaptureAbi, PythonAsyncLayout) {
  // py_processes values the agent writes and the context-copy event.
  EXPECT_EQ(sizeof(weft_py_process), 24u);
  EXPECT_EQ(offsetof(weft_py_process, runtime_addr), 0u);
  EXPECT_EQ(offsetof(weft_py_process, interpreters_head), 8u);
  EXPECT_EQ(offsetof(weft_py_process, tstate_current), 10u);
  EXPECT_EQ(offsetof(weft_py_process, threads_head), 12u);
  EXPECT_EQ(offsetof(weft_py_process, tstate_next), 14u);
  EXPECT_EQ(offsetof(weft_py_process, tstate_native_tid), 16u);
  EXPECT_EQ(offsetof(weft_py_process, tstate_context), 18u);
  EXPECT_EQ(sizeof(weft_async_context_event), 40u);
  EXPECT_EQ(offsetof(weft_async_context_event, parent), 24u);
  EXPECT_EQ(offsetof(weft_async_context_event, child), 32u);
}

TEST(CaptureAbi, LimitsArePowersOfTwo) {
  // The BPF side masks offsets with WEFT_MAX_CAPTURE - 1.
  EXPECT_EQ(WEFT_MAX_CAPTURE & (WEFT_MAX_CAPTURE - 1), 0);
  EXPECT_LE(WEFT_STAT_LOST, WEFT_STAT_MAX);
  EXPECT_LT(WEFT_STAT_CONN_TABLE_FULL, WEFT_STAT_MAX);
  EXPECT_LT(WEFT_STAT_THREAD_TABLE_FULL, WEFT_STAT_MAX);
}

}  // namespace
