// Throughput of the vectorised exp and tan that pair_style gdfnn calls per triplet, compiled
// with the plugin's flags (src/gdfnn/workflows/lammps.py, COMPILE_FLAGS): the floor under
// the plugin's time per atom (docs/design-notes.md, "LAMMPS plugin").
//
//   g++ -O3 -march=native -mprefer-vector-width=512 -ffast-math -fopenmp-simd \
//       benchmarks/vector_math.cpp -o /tmp/vector_math && /tmp/vector_math
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

template <typename Body> double ns_per_element(int n, int repeats, Body body)
{
  auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < repeats; ++k) body(k);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return took.count() / repeats / n * 1e9;
}

int main()
{
  const int n = 456, repeats = 200000;    // 456: triplets per atom of the benchmark's Si
  std::vector<double> r(n), out(n);
  for (int i = 0; i < n; ++i) r[i] = 2.0 + 4.0 * i / n;    // distances, Å
  double check = 0.0;
  double exp_ns = ns_per_element(n, repeats, [&](int k) {
#pragma omp simd
    for (int i = 0; i < n; ++i) out[i] = std::exp(-(0.008 + 1e-9 * (k & 1)) * r[i] * r[i]);
    check += out[k % n];
  });
  double tan_ns = ns_per_element(n, repeats, [&](int k) {
#pragma omp simd
    for (int i = 0; i < n; ++i) out[i] = std::tan((0.26 + 1e-9 * (k & 1)) * r[i]);
    check += out[k % n];
  });
  std::printf("per element: exp %.3f ns, tan %.3f ns (checksum %.6g)\n", exp_ns, tan_ns, check);
  std::printf("per triplet of G4 (3 exp + 1 tan): %.2f ns; per atom (%d triplets): %.2f us\n",
              3 * exp_ns + tan_ns, n, n * (3 * exp_ns + tan_ns) / 1000);
}
