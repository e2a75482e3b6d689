#include "asyncps/models/csv_reader.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <vector>

namespace asyncps::models {

Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& o) {
  std::ifstream f(path);
  if (!f) return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  const std::size_t pixels = o.height * o.width * o.channels;
  const std::size_t columns = pixels + 1;
  if (o.label_column >= columns) {
    return Status::InvalidArgument(path + ": label column " + std::to_string(o.label_column) +
                                   " is outside the " + std::to_string(columns) + " columns");
  }
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> labels;
  std::string line;
  std::size_t line_no = 0;
  if (o.has_header) {
    ++line_no;
    if (!std::getline(f, line)) return Status::InvalidArgument(path + ": empty file, expected a header line");
  }
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    std::size_t col = 0;
    const char* p = line.data();
    const char* end = p + line.size();
    while (true) {
      while (p < end && *p == ' ') ++p;
      double v = 0;
      auto [q, ec] = std::from_chars(p, end, v);
      if (ec != std::errc()) {
        return Status::InvalidArgument(where + "column " + std::to_string(col + 1) +
                                       " is not a number");
      }
      if (col >= columns) {
        return Status::InvalidArgument(where + "more than " + std::to_string(columns) +
                                       " columns (label + " + std::to_string(pixels) + " pixels)");
      }
      if (col == o.label_column) {
        // Written so that NaN fails too (every comparison with NaN is false).
        if (!(v >= 0 && v < static_cast<double>(o.num_classes)) || v != std::floor(v)) {
          return Status::InvalidArgument(where + "label " + std::string(p, q) + " is not an integer in [0, " +
                                         std::to_string(o.num_classes) + ")");
        }
        labels.push_back(static_cast<std::uint8_t>(v));
      } else {
        if (!(v >= 0 && v <= 255)) {  // NaN and infinities fail too
          return Status::InvalidArgument(where + "pixel " + std::string(p, q) + " in column " +
                                         std::to_string(col + 1) + " is not a number in [0, 255]");
        }
        data.push_back(static_cast<std::uint8_t>(v + 0.5));
      }
      ++col;
      p = q;
      while (p < end && *p == ' ') ++p;
      if (p == end) break;
      if (*p != ',') return Status::InvalidArgument(where + "expected ',' after column " + std::to_string(col));
      ++p;
    }
    if (col != columns) {
      return Status::InvalidArgument(where + std::to_string(col) + " columns, expected " +
                                     std::to_string(columns) + " (label + " + std::to_string(pixels) +
                                     " pixels)");
    }
  }
  if (labels.empty()) return Status::InvalidArgument(path + ": no samples after the header");
  Result<Dataset> d = MakeDataset(o.height, o.width, o.channels, o.num_classes, data,
                                  std::move(labels), o.divisor);
  if (!d.ok()) return Status::InvalidArgument(path + ": " + d.status().message());
  return d;
}

}  // namespace asyncps::models
