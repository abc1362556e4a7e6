// OTLP/gRPC transport: TraceService/Export with retries.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "exporters/batching_exporter.h"
#include "exporters/otlp/otlp_config.h"
#include "exporters/otlp/otlp_wire.h"
#include "exporters/otlp/retry_loop.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace weft {

class OtlpGrpcSink final : public BatchSink {
 public:
  static absl::StatusOr<std::unique_ptr<OtlpGrpcSink>> Create(const OtlpConfig& config);

  SendOutcome Send(const std::vector<Span>& batch, absl::Time deadline) override;
  void Cancel() override;

 private:
  OtlpGrpcSink(const OtlpConfig& config, std::string address,
               std::shared_ptr<grpc::Channel> channel);
  AttemptResult Attempt(const grpc::ByteBuffer& request, absl::Time give_up_at);

  // TraceService/Export called by name with the request already encoded by
  // OtlpWireEncoder: no protobuf message tree is built for it.
  using ExportStub = grpc::TemplatedGenericStub<
      grpc::ByteBuffer, opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse>;

  const OtlpConfig config_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  ExportStub stub_;
  RetryLoop retry_;
  OtlpWireEncoder encoder_;  // Send runs on one worker thread only
  std::string body_;         // reused between batches
  std::mutex active_mu_;
  grpc::ClientContext* active_call_ = nullptr;  // guarded by active_mu_, for Cancel()
};

// The RetryInfo delay inside a grpc-status-details-bin payload, if any.
std::optional<absl::Duration> RetryDelayFromStatusDetails(const std::string& details);

}  // namespace weft
