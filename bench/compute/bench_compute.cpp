// Training throughput of the seed CNN (or of a Keras model file): samples/s
// of forward + backward + optimizer step, median over repeats, over consecutive
// batches of the real Fashion-MNIST training set (--data), as
// bench/compute/torch_bench.py feeds PyTorch; random batches of the model's
// input shape for a --model whose input is not 28x28x1.
//
//   asyncps-bench-compute [--batch 16,32,128] [--optimizer sgd,adam] [--threads 1]
//                         [--repeats 5] [--min-seconds 1.0] [--model FILE.json]
//                         [--data DIR]
// Prints one line per (optimizer, batch):
//   "asyncps <opt> <batch> <samples/s wall> <samples/s of process CPU time>"
// (the second is steadier on a shared machine).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include "asyncps/models/blas_threads.h"
#include "asyncps/models/dataset.h"
#include "asyncps/models/init.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/seed_cnn.h"

namespace am = asyncps::models;

namespace {
double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// The training batches fed to TrainStep: one-hot labels, consecutive batches
// of `data` (wrapping around), or one random batch when data is null.
class Feed {
 public:
  Feed(const am::Dataset* data, std::size_t sample_size, std::size_t classes, std::size_t batch)
      : data_(data), batch_(batch), classes_(classes), x_(batch * sample_size), y_(batch * classes) {
    if (data_ != nullptr) return;
    am::Rng rng(42);
    for (float& v : x_) v = rng.Uniform();
    std::vector<std::uint8_t> labels(batch);
    for (auto& l : labels) l = static_cast<std::uint8_t>(rng.Below(classes));
    am::OneHot(labels.data(), batch, classes, y_.data());
  }
  // The next batch's images (x) and one-hot labels (y), valid until the next call.
  void Next(const float** x, const float** y) {
    if (data_ != nullptr) {
      if (next_ + batch_ > data_->size()) next_ = 0;
      am::OneHot(data_->labels.data() + next_, batch_, classes_, y_.data());
      *x = data_->image(next_);
      next_ += batch_;
    } else {
      *x = x_.data();
    }
    *y = y_.data();
  }

 private:
  const am::Dataset* data_;
  std::size_t batch_, classes_, next_ = 0;
  std::vector<float> x_, y_;
};

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--batch 16,32,128] [--optimizer sgd,adam] [--threads 1] "
               "[--repeats 5] [--min-seconds 1.0] [--model FILE.json] [--data DIR]\n",
               argv0);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  std::string batches = "16,32,128", optimizers = "sgd,adam", model_file, data_dir = am::kDefaultDataDir;
  int threads = 1, repeats = 5;
  double min_seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string v = argv[++i];
    if (a == "--batch")
      batches = v;
    else if (a == "--optimizer")
      optimizers = v;
    else if (a == "--threads")
      threads = std::atoi(v.c_str());
    else if (a == "--repeats")
      repeats = std::max(1, std::atoi(v.c_str()));
    else if (a == "--min-seconds")
      min_seconds = std::atof(v.c_str());
    else if (a == "--model")
      model_file = v;
    else if (a == "--data")
      data_dir = v;
    else
      return Usage(argv[0]);
  }
  am::SetBlasThreads(threads);
  am::MnistOptions mnist;
  mnist.dir = data_dir;
  auto data = am::LoadMnist(mnist, am::Split::kTrain);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  for (const std::string& opt_name : Split(optimizers)) {
    for (const std::string& b : Split(batches)) {
      const std::size_t batch = static_cast<std::size_t>(std::atol(b.c_str()));
      if (batch == 0) return Usage(argv[0]);
      auto model = model_file.empty() ? am::BuildSeedCnn({}) : am::LoadKerasModel(model_file, 1);
      if (!model.ok()) {
        std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
        return 1;
      }
      auto& m = *model.value();
      auto opt = am::MakeOptimizer(opt_name, 0.0f);
      if (!opt.ok()) {
        std::fprintf(stderr, "%s\n", opt.status().ToString().c_str());
        return 2;
      }
      if (asyncps::Status st = m.Reserve(batch); !st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 2;
      }
      const bool real = m.input_shape().size() == data.value().sample_size() && m.num_classes() == 10;
      Feed feed(real ? &data.value() : nullptr, m.input_shape().size(), m.num_classes(), batch);
      const float *x = nullptr, *y = nullptr;
      auto step = [&] {
        feed.Next(&x, &y);
        m.TrainStep(x, y, batch, *opt.value());
      };
      for (int w = 0; w < 3; ++w) step();
      std::vector<double> rates, cpu_rates;
      for (int r = 0; r < repeats; ++r) {
        std::size_t steps = 0;
        const double c0 = CpuSeconds();
        const auto t0 = std::chrono::steady_clock::now();
        double elapsed = 0;
        do {
          step();
          ++steps;
          elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } while (elapsed < min_seconds);
        rates.push_back(static_cast<double>(steps * batch) / elapsed);
        cpu_rates.push_back(static_cast<double>(steps * batch) / (CpuSeconds() - c0));
      }
      std::printf("asyncps %s %zu %.1f %.1f\n", opt_name.c_str(), batch, Median(rates), Median(cpu_rates));
      std::fflush(stdout);
    }
  }
  return 0;
}
