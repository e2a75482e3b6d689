// Exact top-k selection by magnitude, for top-k commits (asyncps/compression.h).
// Internal (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace asyncps {

// The positions of the k entries of `values` with the largest magnitude,
// increasing (ties broken toward lower positions). Exact; one pass over
// `values` plus a selection among a sampled candidate set. `scratch` is reused.
void SelectTopK(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& out,
                std::vector<float>& scratch);

}  // namespace asyncps
