#include "asyncps/models/cifar_reader.h"

#include <filesystem>
#include <fstream>
#include <vector>

namespace asyncps::models {
namespace {

std::vector<std::string> BatchFiles(const std::string& dir, Split split) {
  namespace fs = std::filesystem;
  if (split == Split::kTest) return {(fs::path(dir) / "test_batch.bin").string()};
  std::vector<std::string> files;
  for (int i = 1; i <= 5; ++i) files.push_back((fs::path(dir) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  return files;
}

}  // namespace

bool IsCifar10Dir(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / "data_batch_1.bin", ec);
}

Result<Dataset> LoadCifar10(const CifarOptions& o, Split split) {
  if (o.num_workers == 0 || o.worker >= o.num_workers) {
    return Status::InvalidArgument("CIFAR-10: worker " + std::to_string(o.worker) + " of " +
                                   std::to_string(o.num_workers) + " workers; need worker < num_workers");
  }
  std::vector<std::uint8_t> records;
  for (const std::string& path : BatchFiles(o.dir, split)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Status::IOError(path +
                             ": cannot open; point --data at the CIFAR-10 binary folder (data_batch_1.bin ... "
                             "data_batch_5.bin, test_batch.bin)");
    }
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % kCifarRecordBytes != 0) {
      return Status::InvalidArgument(path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                                     std::to_string(kCifarRecordBytes) +
                                     "-byte records (the last one starts at offset " +
                                     std::to_string(bytes.size() / kCifarRecordBytes * kCifarRecordBytes) +
                                     "); truncated or not a CIFAR-10 binary batch");
    }
    for (std::size_t r = 0; r < bytes.size() / kCifarRecordBytes; ++r) {
      const std::uint8_t label = bytes[r * kCifarRecordBytes];
      if (label > 9) {
        return Status::InvalidArgument(path + ": record " + std::to_string(r) + " (offset " +
                                       std::to_string(r * kCifarRecordBytes) + ") has label " + std::to_string(label) +
                                       ", outside 0-9; not a CIFAR-10 batch (CIFAR-100 has two label bytes)");
      }
    }
    records.insert(records.end(), bytes.begin(), bytes.end());
  }
  std::size_t n = records.size() / kCifarRecordBytes;
  if (o.limit != 0 && o.limit < n) n = o.limit;
  const std::size_t begin = o.worker * n / o.num_workers, end = (o.worker + 1) * n / o.num_workers;
  constexpr std::size_t plane = 32 * 32;
  std::vector<std::uint8_t> pixels((end - begin) * plane * 3), labels(end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    const std::uint8_t* rec = records.data() + i * kCifarRecordBytes;
    labels[i - begin] = rec[0];
    std::uint8_t* img = pixels.data() + (i - begin) * plane * 3;
    for (std::size_t p = 0; p < plane; ++p)  // channel planes -> NHWC
      for (std::size_t c = 0; c < 3; ++c) img[p * 3 + c] = rec[1 + c * plane + p];
  }
  Result<Dataset> d = MakeDataset(32, 32, 3, 10, pixels, std::move(labels), o.divisor);
  if (!d.ok()) return Status::InvalidArgument(o.dir + ": " + d.status().message());
  return d;
}

}  // namespace asyncps::models
