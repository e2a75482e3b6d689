#include "asyncps/core/compression.h"

#include <string>

#include "asyncps/core/lower_case.h"

namespace asyncps {
const char* EncodingName(Encoding e) { return e == Encoding::kBfloat16 ? "bf16" : "f32"; }

Result<Encoding> ParseEncoding(std::string_view name) {
  const std::string n = internal::LowerCase(name);
  if (n == "f32" || n == "float32") return Encoding::kFloat32;
  if (n == "bf16" || n == "bfloat16") return Encoding::kBfloat16;
  return Status::InvalidArgument("unknown encoding '" + std::string(name) + "' (expected f32 or bf16)");
}

std::size_t BytesPerValue(Encoding e) { return e == Encoding::kBfloat16 ? 2 : 4; }

Status Compression::Validate() const {
  if (!(commit_top_k >= 0 && commit_top_k < 1))
    return Status::InvalidArgument("commit_top_k must be 0 (dense commits) or in (0, 1), got " +
                                   std::to_string(commit_top_k));
  return Status::OK();
}

}  // namespace asyncps
