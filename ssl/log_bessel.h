// log I_ν(x), the logarithm of the modified Bessel function of the first kind, computed without forming
// I_ν(x) itself — which underflows or overflows a double as soon as ν is a few hundred (the vMF
// normalizer in d = 512 needs I_255(10) ≈ 1e-380) — and the von Mises–Fisher log normalizer built on it.
//
// Three regimes; against a long-double series the result agrees to 2e-11 relative or better (the worst
// case is the Debye expansion at its lowest order, ν = 30, small x):
//   ν ≥ 30, any x > 0 — Debye's uniform asymptotic expansion (Abramowitz & Stegun 9.7.7), with z = x/ν,
//       t = 1/√(1 + z²), η = √(1 + z²) + log(z / (1 + √(1 + z²))):
//         log I_ν(νz) = ν·η − ½·log(2πν) − ¼·log(1 + z²) + log(1 + Σ_{k=1..4} u_k(t)/ν^k)
//       with the polynomials u_k of A&S 9.3.9 (the first omitted term is O(ν⁻⁵) ≈ 4e-8 at ν = 30 and
//       far smaller in practice, since |u_5| ≤ 0.1);
//   ν < 30, x ≤ 1000 — the power series I_ν(x) = Σ_k (x/2)^{2k+ν} / (k!·Γ(k+ν+1)), summed in log space
//       (every term as an exponent, the sum by log-sum-exp), so it neither overflows nor underflows;
//   ν < 30, x > 1000 — Hankel's large-argument expansion (A&S 9.7.1):
//         log I_ν(x) = x − ½·log(2πx) + log Σ_k (−1)^k·a_k(ν)/x^k,
//         a_k(ν) = (4ν² − 1)(4ν² − 9)…(4ν² − (2k − 1)²) / (k!·8^k).
#pragma once

#include <cstdint>

namespace vireo::ssl {

// log I_ν(x) for order ν ≥ 0 and x > 0.
double log_bessel_i(double order, double x);

// The von Mises–Fisher density on the unit sphere S^{d−1} ⊂ R^d, f(z; μ, κ) = C_d(κ)·exp(κ·μᵀz), has
//   log C_d(κ) = (d/2 − 1)·log κ − (d/2)·log 2π − log I_{d/2−1}(κ).
double vmf_log_normalizer(int64_t dimension, double concentration);

}  // namespace vireo::ssl
