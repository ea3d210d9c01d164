// Persistent cost estimates: one JSON file per (model fingerprint, settings) under
// <cache dir>/score_optimal/. A file whose key, sizes or values do not check out is ignored (and
// rewritten by the caller), never trusted.
#pragma once

#include <optional>
#include <string>

#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"
#include "sigmaflow/status.h"

namespace sf::so {

// Canonical key text for an estimate; every setting that changes the result is in it.
std::string cache_key(const std::string& model_fingerprint, const std::string& cost_kind, double sigma_min,
                      double sigma_max, const EstimateOptions& options, const std::string& data_fingerprint,
                      const std::string& dtype);

std::string cache_file(const std::string& cache_dir, const std::string& key);

// The checks every estimate passes, fresh or cached: grid_size intervals, a strictly descending
// grid, finite non-negative costs that are not all zero (a zero cost curve carries no schedule).
Status check_estimate(const CostEstimate& estimate, int64_t grid_size);

// Returns the estimate, or nullopt with `why` set ("missing", "corrupted: ...", "stale: ...").
std::optional<CostEstimate> load_cached(const std::string& cache_dir, const std::string& key, int64_t grid_size,
                                        std::string* why);
Status store_cached(const std::string& cache_dir, const std::string& key, const CostEstimate& estimate);

}  // namespace sf::so
