// A small, fast, portable RNG: the same seed gives the same numbers with every compiler and standard library
// (std:: distributions do not), on every machine. Used for level generation and token sampling.
#ifndef SKILLSD_CORE_RANDOM_H_
#define SKILLSD_CORE_RANDOM_H_

#include <array>
#include <cstdint>

namespace skillsd {

// One round of SplitMix64: a good 64-bit mix, also used to derive seeds.
uint64_t SplitMix64(uint64_t x);

// xoshiro256** seeded by SplitMix64. Not thread-safe.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n), n > 0, without modulo bias (Lemire).
  uint32_t Uniform(uint32_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double UniformDouble();
  // True with probability p.
  bool Bernoulli(double p) { return UniformDouble() < p; }

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace skillsd

#endif  // SKILLSD_CORE_RANDOM_H_
