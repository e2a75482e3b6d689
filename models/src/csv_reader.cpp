#include "asyncps/models/csv_reader.h"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <fstream>
#include <vector>

namespace asyncps::models {

namespace {
// The comma-separated cells of a line, spaces trimmed.
std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    std::string c = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = c.find_first_not_of(' '), last = c.find_last_not_of(" \r");
    cells.push_back(first == std::string::npos ? "" : c.substr(first, last - first + 1));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}
}  // namespace

Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& options) {
  std::ifstream f(path);
  if (!f) return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  CsvOptions o = options;
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> header;
  if (o.has_header) {
    ++line_no;
    if (!std::getline(f, line)) return Status::InvalidArgument(path + ": empty file, expected a header line");
    header = Cells(line);
  }
  if (!o.label_name.empty()) {
    if (!o.has_header) return Status::InvalidArgument(path + ": a label column by name needs a header line");
    auto it = std::find(header.begin(), header.end(), o.label_name);
    if (it == header.end())
      return Status::InvalidArgument(path + ": no column named '" + o.label_name + "' in the header");
    o.label_column = static_cast<std::size_t>(it - header.begin());
  }
  if (o.infer_features) {
    std::size_t columns = header.size();
    if (!o.has_header) {
      const auto here = f.tellg();
      std::string first;
      if (std::getline(f, first)) columns = Cells(first).size();
      f.seekg(here);
    }
    if (columns < 2) return Status::InvalidArgument(path + ": needs a label column and at least one feature column");
    o.height = o.width = 1;
    o.channels = columns - 1;
  }
  const std::size_t pixels = o.height * o.width * o.channels;
  const std::size_t columns = pixels + 1;
  if (o.label_column >= columns) {
    return Status::InvalidArgument(path + ": label column " + std::to_string(o.label_column) + " is outside the " +
                                   std::to_string(columns) + " columns");
  }
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> labels;
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
        return Status::InvalidArgument(where + "column " + std::to_string(col + 1) + " is not a number");
      }
      if (col >= columns) {
        return Status::InvalidArgument(where + "more than " + std::to_string(columns) + " columns (label + " +
                                       std::to_string(pixels) + " pixels)");
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
      return Status::InvalidArgument(where + std::to_string(col) + " columns, expected " + std::to_string(columns) +
                                     " (label + " + std::to_string(pixels) + " pixels)");
    }
  }
  if (labels.empty()) return Status::InvalidArgument(path + ": no samples after the header");
  Result<Dataset> d = MakeDataset(o.height, o.width, o.channels, o.num_classes, data, std::move(labels), o.divisor);
  if (!d.ok()) return Status::InvalidArgument(path + ": " + d.status().message());
  return d;
}

}  // namespace asyncps::models
