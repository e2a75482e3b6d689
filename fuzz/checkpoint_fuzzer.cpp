// libFuzzer target: a shard's restart from a checkpoint file, the one input a
// shard reads from disk (ps::ReadCheckpoint, ps::RestoreShardFromDir). The
// input is the file, but its last 4 bytes are replaced by the CRC-32 of the
// rest, so that the fuzzer reaches the sections behind the checksum. Besides
// ASan+UBSan: a file is restored only into a shard whose snapshot then holds
// what the file held, and never a center with NaN or Inf into a shard that
// rejects them.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "asyncps/server/checkpoint.h"
#include "fuzz_setup.h"
#include "fuzz_temp_file.h"

using namespace asyncps;

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "checkpoint_fuzzer: %s\n", what);
  std::abort();
}

void Restore(const std::string& dir, const Result<ps::CheckpointData>& read, bool reject_non_finite) {
  ps::Shard shard(fuzz::FuzzShardOptions(0, 1, reject_non_finite));
  const Result<bool> restored = ps::RestoreShardFromDir(dir, shard);
  if (!restored.ok() || !restored.value()) {
    if (shard.initialised()) Fail("a refused checkpoint initialised the shard");
    return;
  }
  if (!read.ok()) Fail("RestoreShardFromDir restored a file ReadCheckpoint refuses");
  const ps::CheckpointData& file = read.value();
  const ps::CheckpointData now = ps::SnapshotShard(shard);
  if (!(now.layout == file.layout) || now.algorithm != file.algorithm ||
      now.counters.updates != file.counters.updates || now.workers.size() != file.workers.size())
    Fail("the restored shard does not hold the checkpoint's state");
  if (now.center.size() != file.center.size() ||
      std::memcmp(now.center.data(), file.center.data(), now.center.size() * sizeof(float)) != 0)
    Fail("the restored center differs from the checkpoint's");
  if (reject_non_finite)
    for (float v : now.center)
      if (!std::isfinite(v)) Fail("a non-finite center was restored into a shard that rejects NaN and Inf");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  if (bytes.size() >= 4) {
    const auto crc = static_cast<std::uint32_t>(crc32(0, bytes.data(), static_cast<uInt>(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  }
  const std::string dir = fuzz::TempDir().string();
  const std::string path = ps::CheckpointPath(dir, 0, 1);
  fuzz::WriteFile(path, bytes);
  const Result<ps::CheckpointData> read = ps::ReadCheckpoint(path);
  Restore(dir, read, /*reject_non_finite=*/true);
  Restore(dir, read, /*reject_non_finite=*/false);
  return 0;
}
