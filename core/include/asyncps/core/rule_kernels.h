// The worker side of each update rule (update_rule.h has the table) as pure
// math over flat float spans, used by the client's RuleDriver. Not part of the
// installed API.
#pragma once

#include <span>

namespace asyncps {

// out = (w - w0) / divisor. REQUIRES: equal sizes, divisor != 0, out overlaps
// neither input.
void ComputeDelta(std::span<const float> w, std::span<const float> w0, float divisor, std::span<float> out);

// The overlapped delta rules' boundary (RuleDriver), in one pass:
// delta = (w - w0) / divisor; w = w0 = base + delta. REQUIRES: equal sizes,
// divisor != 0, no two spans overlap.
void RebaseDelta(std::span<float> w, std::span<float> w0, std::span<const float> base, float divisor,
                 std::span<float> delta);

// The elastic step: e = alpha (w - center); w -= e. REQUIRES: equal sizes.
void ElasticStep(std::span<float> w, std::span<const float> center, float alpha, std::span<float> e);

// EAMSGD, before the batch: v *= mu; w_lookahead = w + v (written into w; the
// original w is kept in `w_saved`).
void MomentumLookahead(std::span<float> w, std::span<float> v, std::span<float> w_saved, float mu);

// EAMSGD, after the batch: g = w_trained - (w_saved + v); v -= eta g; w = w_saved - v.
void MomentumUpdate(std::span<float> w, std::span<float> v, std::span<const float> w_saved, float eta);

}  // namespace asyncps
