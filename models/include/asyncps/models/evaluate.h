// Batched evaluation: accuracy (argmax of the logits), mean cross-entropy, the
// confusion matrix and the classification metrics taken from it (Keras'
// accuracy; scikit-learn's precision, recall, F1, macro F1 and ROC AUC).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "asyncps/models/dataset.h"
#include "asyncps/models/sequential.h"

namespace asyncps::models {

// Precision, recall and F1 of one class, from a confusion matrix. A ratio
// whose denominator is 0 is 0 (scikit-learn's zero_division=0).
struct ClassScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

struct Evaluation {
  double accuracy = 0.0;  // fraction in [0, 1]; 0 for regression
  double loss = 0.0;      // the model's loss(), mean over the samples
  std::size_t samples = 0;
  std::size_t num_classes = 0;
  // confusion[t * num_classes + p]: test samples of class t predicted as p.
  std::vector<std::uint64_t> confusion;
  // The unweighted mean of every class's F1 (scikit-learn's average='macro').
  double macro_f1 = 0.0;
  // Two classes: class 1 is the positive one (the label map's second label,
  // e.g. "s" of "b"/"s"); roc_auc ranks the samples by softmax(logits)[1].
  ClassScores positive;
  double roc_auc = 0.0;
  // Regression (targets): the mean squared and absolute errors of the
  // predictions and R^2 = 1 - SSE / SST (0 when the targets are constant).
  bool regression = false;
  double mse = 0.0;
  double mae = 0.0;
  double r2 = 0.0;
};

// The outputs a model trained with `loss` on `data` has: 1 for regression and
// binary_crossentropy, else the data's classes.
std::size_t ModelOutputsFor(const Loss& loss, const Dataset& data);

// Runs the model in evaluation mode over `data` in batches of batch_size, with
// the model's loss and output activation (a binary_crossentropy model predicts
// class 1 when its sigmoid is above 0.5). InvalidArgument when the data's
// image shape or class count do not match the model, or regression data meets
// a classification loss (or the other way round).
Result<Evaluation> Evaluate(Sequential& model, const Dataset& data, std::size_t batch_size = 256);

// Class c's scores from a num_classes x num_classes confusion matrix (rows:
// true class, columns: predicted). REQUIRES: c < num_classes,
// confusion.size() == num_classes^2.
ClassScores ScoresOf(std::span<const std::uint64_t> confusion, std::size_t num_classes, std::size_t c);

// The mean over classes of ScoresOf(...).f1.
double MacroF1(std::span<const std::uint64_t> confusion, std::size_t num_classes);

// The area under the ROC curve of `scores` against `positive` (1: positive):
// the probability that a random positive scores above a random negative, ties
// counting one half (Mann-Whitney). 0.5 when either class is absent.
// REQUIRES: scores.size() == positive.size().
double RocAuc(std::span<const float> scores, std::span<const std::uint8_t> positive);

}  // namespace asyncps::models
