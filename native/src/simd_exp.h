// Vectorised e^x for the SIMD paths, written once over the vector type (used by isa_avx2.cc and
// isa_avx512.cc inside their target regions). Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6
// polynomial for e^r, then 2^n through the exponent bits; ≤ 2 ulp over the normal range. Results below
// FLT_MIN flush to 0 and above FLT_MAX become +inf; NaN propagates. x is clamped to [−88.38, ln FLT_MAX], so n
// reaches 128 at the top (e^x in (2^127.5, FLT_MAX]), one past what the exponent field holds: 2^n is then formed
// as 2^min(n, 127) times 2.
//
// Requires, in the enclosing scope: V with R, set1, add, mul, fma, and V::exp_parts helpers
//   floor(R), pow2i(R n) (2^n for integral n in [-126, 127]), select_lt(x, c, ifLess, other),
//   select_gt(x, c, ifGreater, other), clamp(x, lo, hi) propagating NaN.
template <class V>
static inline typename V::R cephes_exp(typename V::R x) {
  using R = typename V::R;
  const R hi = V::set1(88.72283935f), lo = V::set1(-88.3762626647949f);
  R xc = V::clamp(x, lo, hi);
  R n = V::floor(V::fma(xc, V::set1(1.44269504088896341f), V::set1(0.5f)));
  R r = V::fma(n, V::set1(-0.693359375f), xc);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R y = V::set1(1.9875691500e-4f);
  y = V::fma(y, r, V::set1(1.3981999507e-3f));
  y = V::fma(y, r, V::set1(8.3334519073e-3f));
  y = V::fma(y, r, V::set1(4.1665795894e-2f));
  y = V::fma(y, r, V::set1(1.6666665459e-1f));
  y = V::fma(y, r, V::set1(5.0000001201e-1f));
  y = V::fma(y, V::mul(r, r), V::add(r, V::set1(1.f)));
  const R n127 = V::clamp(n, V::set1(-127.f), V::set1(127.f));
  R e = V::mul(V::mul(y, V::pow2i(n127)), V::select_gt(n, V::set1(127.5f), V::set1(2.f), V::set1(1.f)));
  e = V::select_lt(x, V::set1(-87.33654475f), V::set1(0.f), e);
  return V::select_gt(x, V::set1(88.72283935f), V::set1(INFINITY), e);
}
