/* pair_style gdfnn: see pair_gdfnn.h and docs/lammps.md. */

#include "pair_gdfnn.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "output.h"
#include "update.h"
#include "utils.h"

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>

using namespace LAMMPS_NS;

namespace {

// 2 adds the coverage reference, 3 the error bar, 4 its rigidity ceiling (the verdict) and
// error bars without knots; 1 to 3 are still read
const int FORMAT_VERSION = 4;
// a kernel sum within this relative distance of the threshold counts as reaching it, in the
// full sum and in the cluster search alike (they add in different orders): gdfnn.gdf.clusters
const double TIE = 1e-12;
// clusters next to an atom's last covering one that the coverage search tries first
const int NEAR_CLUSTERS = 4;
// reference points of a cluster summed at once (two vectors of doubles)
const int CHUNK = 16;
// reference points per pass of the exact sums (26 features: 27 kB, in L1)
const int SPAN = 128;
// clusters put in bound order at a time by the coverage search (a full sort of all K
// clusters per uncovered atom cost more than their kernel sums)
const size_t BATCH = 32;
const double PI = 3.14159265358979323846;
const double TANH_NORM = 1.0 / std::pow(std::tanh(1.0), 3);

// activation names of the file, in the order of PairGdfnn::Activation
const char *ACTIVATION_NAMES[PairGdfnn::N_ACTIVATIONS] = {
    "linear", "tanh", "sigmoid", "softplus", "relu", "gaussian", "cos", "revlogistic", "exp",
    "harmonic", "silu"};

template <PairGdfnn::Activation code> inline void activate(double z, double &a, double &da)
{
  switch (code) {
    case PairGdfnn::LINEAR: a = z; da = 1.0; break;
    case PairGdfnn::TANH: a = std::tanh(z); da = 1.0 - a * a; break;
    case PairGdfnn::SIGMOID: a = 1.0 / (1.0 + std::exp(-z)); da = a * (1.0 - a); break;
    case PairGdfnn::SOFTPLUS:    // as torch computes it (linear above 20)
      if (z > 20.0) { a = z; da = 1.0; }
      else { a = std::log1p(std::exp(z)); da = 1.0 / (1.0 + std::exp(-z)); }
      break;
    case PairGdfnn::RELU: a = z > 0.0 ? z : 0.0; da = z > 0.0 ? 1.0 : 0.0; break;
    case PairGdfnn::GAUSSIAN: a = std::exp(-0.5 * z * z); da = -z * a; break;
    case PairGdfnn::COS: a = std::cos(z); da = -std::sin(z); break;
    case PairGdfnn::REVLOGISTIC: {
      double s = 1.0 / (1.0 + std::exp(-z));
      a = 1.0 - s;
      da = -s * (1.0 - s);
    } break;
    case PairGdfnn::EXP: a = std::exp(-z); da = -a; break;
    case PairGdfnn::HARMONIC: a = z * z; da = 2.0 * z; break;
    default: {    // SILU
      double s = 1.0 / (1.0 + std::exp(-z));
      a = z * s;
      da = s * (1.0 + z * (1.0 - s));
    }
  }
}

// activate() over n values in place (z becomes the activation, dz its derivative), with the
// activation fixed at compile time so that the loop vectorises (glibc's vector exp, tanh)
template <PairGdfnn::Activation code> void activate_n(double *z, double *dz, int n)
{
#pragma omp simd
  for (int r = 0; r < n; ++r) activate<code>(z[r], z[r], dz[r]);
}

void activate_all(PairGdfnn::Activation code, double *z, double *dz, int n)
{
  static void (*const table[PairGdfnn::N_ACTIVATIONS])(double *, double *, int) = {
      activate_n<PairGdfnn::LINEAR>, activate_n<PairGdfnn::TANH>,
      activate_n<PairGdfnn::SIGMOID>, activate_n<PairGdfnn::SOFTPLUS>,
      activate_n<PairGdfnn::RELU>, activate_n<PairGdfnn::GAUSSIAN>, activate_n<PairGdfnn::COS>,
      activate_n<PairGdfnn::REVLOGISTIC>, activate_n<PairGdfnn::EXP>,
      activate_n<PairGdfnn::HARMONIC>, activate_n<PairGdfnn::SILU>};
  table[code](z, dz, n);
}

// Several triplets at once as one GCC/Clang vector (64 bytes: 8 doubles or 16 floats), so the
// loops over the descriptor's numbers of radial factors and powers, known only at run time,
// run inside a block of triplets: a `#pragma omp simd` loop over the triplets with those
// loops inside stays scalar ("control flow in loop").
template <typename real> struct LanesOf;
template <> struct LanesOf<double> { typedef double type __attribute__((vector_size(64))); };
template <> struct LanesOf<float> { typedef float type __attribute__((vector_size(64))); };
template <typename real> using Lanes = typename LanesOf<real>::type;

template <typename V, typename real> inline V load(const real *p)
{
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V, typename real> inline void store(real *p, const V &v)
{
  std::memcpy(p, &v, sizeof(V));
}

// dE/dr_a, dE/dr_b, dE/dcos and dE/dr_jk of the triplets s, s + 1, ... (one V of them), from
// S_m = sum_q W_mq A_q and dS_m = sum_q W_mq dA_q/dcos, W_mq = dE/dG of the function (m, q)
// of the triplets' element pair: g_a = sum_m S_m dP_m/dr_a, g_b likewise,
// g_cos = sum_m dS_m P_m, g_jk = sum_m S_m dP_m/dr_jk. Arrays are (m or q, T); A, dA scratch.
template <typename V, typename real>
inline void triplet_gradient(size_t s, size_t T, int nm, int nq, const real *W, const real *Aq,
                             const real *dAq, const real *Pm, const real *dPa, const real *dPb,
                             const real *dPj, V *A, V *dA, real *ga, real *gb, real *gc, real *gj)
{
  for (int q = 0; q < nq; ++q) {
    A[q] = load<V>(&Aq[T * q + s]);
    dA[q] = load<V>(&dAq[T * q + s]);
  }
  V va = V(), vb = V(), vc = V(), vj = V();
  for (int m = 0; m < nm; ++m) {
    const real *w = &W[(size_t) m * nq];
    V S = V(), dS = V();
    for (int q = 0; q < nq; ++q) {
      S += w[q] * A[q];
      dS += w[q] * dA[q];
    }
    const size_t o = T * m + s;
    va += S * load<V>(&dPa[o]);
    vb += S * load<V>(&dPb[o]);
    vc += dS * load<V>(&Pm[o]);
    vj += S * load<V>(&dPj[o]);
  }
  store(&ga[s], va);
  store(&gb[s], vb);
  store(&gc[s], vc);
  store(&gj[s], vj);
}

// A = norm (1 + lambda cos)^zeta and dA/dcos = scale (1 + lambda cos)^(zeta - 1), scale =
// norm zeta lambda, of the triplets s, s + 1, ... (one V of them), for an integer zeta >= 1
template <typename V, typename real>
inline void integer_power(size_t s, const real *cosv, real lambda, int izeta, real norm,
                          real scale, real *A, real *dA)
{
  const V base = real(1) + lambda * load<V>(&cosv[s]);
  V low = V() + real(1);
  for (int k = 1; k < izeta; ++k) low *= base;
  store(&A[s], norm * low * base);
  store(&dA[s], scale * low);
}

}    // namespace

// The potential file as rows of words (comments and blank lines dropped), read in order;
// every error stops all ranks with one line naming the file and line.
class PairGdfnn::PotentialText {
 public:
  std::map<std::string, int> index;    // element symbol -> element index

  PotentialText(const std::string &text, const std::string &path, Error *error) :
      path(path), error(error)
  {
    std::istringstream in(text);
    std::string raw;
    while (std::getline(in, raw)) {
      ++last_line;
      std::vector<std::string> words = utils::split_words(utils::trim_comment(raw));
      if (!words.empty()) {
        rows.push_back(words);
        numbers.push_back(last_line);
      }
    }
    if (rows.empty()) fail("empty file: not a gdfnn potential");
  }

  [[noreturn]] void fail(const std::string &what) const
  {
    int at = k < numbers.size() ? numbers[k] : std::max(last_line, 1);
    error->all(FLERR, "pair_style gdfnn: {} line {}: {}", path, at, what);
  }

  bool next_is(const char *key) const { return k < rows.size() && rows[k][0] == key; }

  // the next row, which must start with key and have at least n_min words
  const std::vector<std::string> &expect(const char *key, size_t n_min)
  {
    if (k >= rows.size()) fail(std::string("file ends where '") + key + "' was expected");
    if (rows[k][0] != key) fail(std::string("expected '") + key + "', got '" + rows[k][0] + "'");
    if (rows[k].size() < n_min) fail(std::string("'") + key + "' has too few values");
    return rows[k++];
  }

  // the next row, which must have exactly n words
  const std::vector<std::string> &row(size_t n, const std::string &what)
  {
    if (k >= rows.size() || rows[k].size() != n) fail(what);
    return rows[k++];
  }

  // a finite number (utils::is_double refuses nan and inf, which would poison every force)
  double number(const std::string &word) const
  {
    if (!utils::is_double(word)) fail("not a finite number: '" + word + "'");
    return std::stod(word);
  }

  int integer(const std::string &word) const
  {
    if (!utils::is_integer(word)) fail("not an integer: '" + word + "'");
    return std::stoi(word);
  }

  int element_of(const std::string &symbol) const
  {
    auto it = index.find(symbol);
    if (it == index.end()) fail("unknown element '" + symbol + "'");
    return it->second;
  }

 private:
  std::string path;
  Error *error;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> numbers;    // line number of each row
  size_t k = 0;                // the next row
  int last_line = 0;
};

template <typename real> struct PairGdfnn::Scratch {
  // per neighbour a of the atom (neighbours of element e in [block[e], block[e + 1])): its
  // index j, D_a = x_j - x_i (double, for the virial, and in real), |D_a|, dE_i/dD_a (fn, 3
  // values each); fcn, dfcn: (distinct rc, neighbour) fc(r), dfc/dr; dR: (radial function,
  // neighbour) dG/dr; rad: dE/dr; fm, dfm: (m, neighbour) leg factor exp(-eta (r - rs)^2)
  // fc(r) and its derivative
  std::vector<int> raw_j, nj, block, first;
  std::vector<double> dx, dy, dz;
  std::vector<real> rx, ry, rz, rr, fn, work, fcn, dfcn, dR, rad, fm, dfm;
  // per triplet s (neighbours ta[s] < tb[s]; element pair k in [bucket[k], bucket[k + 1])):
  // cos, r_jk, its cutoff, A_q and dA_q/dcos (q, T), P_m and dP_m/d(r_a, r_b, r_jk) (m, T),
  // the gradients g_a, g_b, g_cos, g_jk and the chain-rule coefficients K_aa, K_bb, K_ab;
  // W: dE/dG of an element pair's functions as an (m, q) matrix
  std::vector<int> ta, tb;
  std::vector<size_t> bucket;
  std::vector<real> cosv, rjk, fcj, dfcj, Aq, dAq, Pm, dPa, dPb, dPj, W, ga, gb, gc, gj, kaa,
      kbb, kab;
  std::vector<Lanes<real>> block_scratch;
  std::vector<real> tail_scratch;
  int n = 0;               // neighbours of the atom
  size_t T = 0, nt = 0;    // room for n (n - 1) / 2 triplets; triplets kept
};

PairGdfnn::PairGdfnn(LAMMPS *lmp) :
    Pair(lmp), scratch_double(new Scratch<double>()), scratch_float(new Scratch<float>())
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
  cutoff_type = 1;
  cutoff_alpha = 0.0;
  cutmax = 0.0;
  single_precision = 0;
  nmax_extrapolation = 0;
  extrapolation = nullptr;
  coverage_every = exact_every = 0;
  coverage_threshold = 0.0;
  rho = uncovered = force_error = nullptr;
  // functions outside their range, uncovered atoms, smallest rho, largest expected error
  nextra = 4;
  pvector = new double[nextra];
  for (int k = 0; k < nextra; ++k) pvector[k] = 0.0;
}

PairGdfnn::~PairGdfnn()
{
  delete[] pvector;
  memory->destroy(extrapolation);
  memory->destroy(rho);
  memory->destroy(uncovered);
  memory->destroy(force_error);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairGdfnn::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
}

void PairGdfnn::settings(int narg, char **arg)
{
  // pair_style gdfnn [precision double|single] [coverage N [exact M]]
  single_precision = 0;
  coverage_every = exact_every = 0;
  coverage_threshold = 0.0;
  const char *usage = "pair_style gdfnn takes 'precision double' or 'precision single', "
                      "'coverage N', 'exact M' and 'threshold RHO'";
  for (int k = 0; k < narg; k += 2) {
    if (k + 1 >= narg) error->all(FLERR, "{}; '{}' needs a value", usage, arg[k]);
    std::string key = arg[k], value = arg[k + 1];
    if (key == "precision" && (value == "single" || value == "double")) {
      single_precision = value == "single";
    } else if ((key == "coverage" || key == "exact") && utils::is_integer(value) &&
               std::stoi(value) >= 0) {
      (key == "coverage" ? coverage_every : exact_every) = std::stoi(value);
    } else if (key == "threshold" && utils::is_double(value) && std::stod(value) > 0.0) {
      coverage_threshold = std::stod(value);
    } else {
      error->all(FLERR, "{}; not '{} {}'", usage, key, value);
    }
  }
  if ((exact_every > 0 || coverage_threshold > 0.0) && coverage_every == 0)
    error->all(FLERR, "pair_style gdfnn: 'exact' and 'threshold' need 'coverage N' (N > 0)");
}

void PairGdfnn::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "pair_coeff * * FILE ELEMENT... needs one element (or NULL) per atom type "
               "({} types)", ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_style gdfnn: pair_coeff must be * * FILE ELEMENT...");
  read_file(arg[2]);
  type_map.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; ++t) {
    std::string symbol = arg[2 + t];
    if (symbol == "NULL") continue;
    for (size_t e = 0; e < elements.size(); ++e)
      if (elements[e].symbol == symbol) type_map[t] = (int) e;
    if (type_map[t] < 0) {
      std::string known;
      for (auto &el : elements) known += " " + el.symbol;
      error->all(FLERR, "pair_style gdfnn: {}: element {} (atom type {}) is not in the "
                 "potential (elements:{})", filename, symbol, t, known);
    }
  }
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = (type_map[i] >= 0 && type_map[j] >= 0);
  if (coverage_every > 0)
    for (int t = 1; t <= ntypes; ++t)
      if (type_map[t] >= 0 && elements[type_map[t]].coverage.clusters() == 0)
        error->all(FLERR, "pair_style gdfnn coverage: {} has no coverage reference for {} "
                   "(gdfnn export --to lammps of a potential trained by gdfnn writes one)",
                   filename, elements[type_map[t]].symbol);
}

void PairGdfnn::read_file(const std::string &path)
{
  filename = path;
  parse(read_on_rank0(path));
}

// The file's text, read on rank 0 (found as LAMMPS finds potential files: as given, else in
// $LAMMPS_POTENTIALS) and broadcast; every rank then parses the same text, so a bad file
// stops all ranks with the same message.
std::string PairGdfnn::read_on_rank0(const std::string &path)
{
  std::string text;
  long size = -1;
  if (comm->me == 0) {
    FILE *fp = utils::open_potential(path, lmp, nullptr);
    if (fp) {
      char chunk[8192];
      size_t got;
      while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) text.append(chunk, got);
      fclose(fp);
      size = (long) text.size();
    }
  }
  MPI_Bcast(&size, 1, MPI_LONG, 0, world);
  if (size < 0) error->all(FLERR, "pair_style gdfnn: {}: cannot open the potential file", path);
  text.resize(size);
  MPI_Bcast(&text[0], (int) size, MPI_CHAR, 0, world);
  return text;
}

void PairGdfnn::parse(const std::string &text)
{
  PotentialText in(text, filename, error);
  auto &head = in.expect("gdfnn_potential", 2);
  const int version = in.integer(head[1]);
  if (version < 1 || version > FORMAT_VERSION)
    in.fail("format version " + head[1] + ", this plugin reads versions 1 to " +
            std::to_string(FORMAT_VERSION) + " (rebuild it with gdfnn lammps build)");
  auto &el = in.expect("elements", 2);
  int n_el = in.integer(el[1]);
  if (n_el < 1 || (int) el.size() != 2 + n_el)
    in.fail("'elements' count does not match the symbols");
  elements.assign(n_el, Element());
  for (int e = 0; e < n_el; ++e) {
    elements[e].symbol = el[2 + e];
    in.index[el[2 + e]] = e;
  }
  auto &ct = in.expect("cutoff_type", 3);
  cutoff_type = in.integer(ct[1]);
  cutoff_alpha = in.number(ct[2]);
  if (cutoff_type < 0 || cutoff_type > 8) in.fail("unknown cutoff_type " + ct[1]);
  cutmax = 0.0;
  for (int e = 0; e < n_el; ++e) {
    Element &E = elements[in.element_of(in.expect("element", 2)[1])];
    read_functions(in, E);
    cutmax = std::max(cutmax, E.cutoff);
    factorise(E, n_el);
    read_range(in, E);
    read_layers(in, E);
    if (in.next_is("coverage")) read_coverage(in, E);
    if (in.next_is("error_bar")) read_error_bar(in, E);
  }
  in.expect("end", 1);
}

void PairGdfnn::read_coverage(PotentialText &in, Element &E)
{
  Coverage &C = E.coverage;
  const size_t D = E.functions.size();
  auto &head = in.expect("coverage", 5);
  C.sigma = in.number(head[1]);
  C.floor = in.number(head[2]);
  const int m = in.integer(head[3]), n_clusters = in.integer(head[4]);
  if (C.sigma <= 0.0 || m < 1 || n_clusters < 1 || n_clusters > m)
    in.fail("coverage needs sigma > 0 and 1 <= clusters <= points");
  for (auto *v : {&C.shift, &C.scale}) {
    auto &row = in.expect(v == &C.shift ? "shift" : "scale", 1);
    if (row.size() != D + 1)
      in.fail("the coverage reference has " + std::to_string(row.size() - 1) +
              " features, the element " + std::to_string(D) + " functions");
    v->clear();
    for (size_t d = 0; d < D; ++d) v->push_back(in.number(row[1 + d]));
  }
  C.points.assign((size_t) m * D, 0.0);
  C.weights.clear();
  C.offsets.assign(1, 0);
  C.centroids.assign(D * n_clusters, 0.0);
  C.radii.clear();
  C.cluster_weights.clear();
  for (int k = 0; k < n_clusters; ++k) {
    auto &head_k = in.expect("cluster", 4 + D);
    if (head_k.size() != 4 + D) in.fail("'cluster' needs size, radius, weight and a centroid");
    const int size = in.integer(head_k[1]), first = C.offsets.back();
    if (size < 1 || first + size > m) in.fail("cluster sizes do not add up to the points");
    C.radii.push_back(in.number(head_k[2]));
    C.cluster_weights.push_back(in.number(head_k[3]));
    for (size_t d = 0; d < D; ++d) C.centroids[d * n_clusters + k] = in.number(head_k[4 + d]);
    for (int j = 0; j < size; ++j) {
      auto &row = in.row(D + 1, "a reference point needs a weight and " + std::to_string(D) +
                                    " features");
      C.weights.push_back(in.number(row[0]));
      for (size_t d = 0; d < D; ++d)
        C.points[(size_t) first * D + d * size + j] = in.number(row[1 + d]);
    }
    C.offsets.push_back(first + size);
  }
  if (C.offsets.back() != m) in.fail("cluster sizes do not add up to the points");
  for (double s : C.scale)
    if (s == 0.0) in.fail("a coverage scale is zero");
  C.flat.assign((size_t) m * D, 0.0);    // every point, feature-major: (D, M)
  for (int k = 0; k < n_clusters; ++k) {
    const int first = C.offsets[k], size = C.offsets[k + 1] - first;
    for (size_t d = 0; d < D; ++d)
      for (int j = 0; j < size; ++j)
        C.flat[d * m + first + j] = C.points[(size_t) first * D + d * size + j];
  }
  C.inv_h = 1.0 / (2.0 * C.sigma * C.sigma * (double) D);
  C.total = 0.0;
  for (double w : C.weights) C.total += w;
  // each cluster's nearest others (centroid distance), for the search's first try
  C.n_near = std::min(NEAR_CLUSTERS, n_clusters - 1);
  C.near.assign((size_t) n_clusters * C.n_near, -1);
  std::vector<std::pair<double, int>> by_distance;
  for (int k = 0; k < n_clusters; ++k) {
    by_distance.clear();
    for (int l = 0; l < n_clusters; ++l) {
      double r2 = 0.0;
      for (size_t d = 0; d < D; ++d) {
        const double t = C.centroids[d * n_clusters + k] - C.centroids[d * n_clusters + l];
        r2 += t * t;
      }
      if (l != k) by_distance.emplace_back(r2, l);
    }
    std::partial_sort(by_distance.begin(), by_distance.begin() + C.n_near, by_distance.end());
    for (int r = 0; r < C.n_near; ++r) C.near[(size_t) k * C.n_near + r] = by_distance[r].second;
  }
}

void PairGdfnn::read_error_bar(PotentialText &in, Element &E)
{
  ErrorBar &B = E.error_bar;
  auto &head = in.expect("error_bar", 3);
  const int n_knots = in.integer(head[1]), width = in.integer(head[2]);
  const size_t n = E.layers.size();
  const int hidden = n > 1 ? E.layers[n - 2].n_out : 0;
  B.ceiling = head.size() > 3 ? in.number(head[3]) : 0.0;
  if (n_knots < (head.size() > 3 ? 0 : 1)) in.fail("the error bar needs at least one knot");
  if (B.ceiling < 0.0) in.fail("the rigidity ceiling must be >= 0 (0: the verdict reads rho)");
  if (width != hidden + 1)
    in.fail("the error bar is " + head[2] + " wide, the last hidden layer " +
            std::to_string(hidden) + " + 1");
  B.knots.clear();
  B.rmse2.clear();
  for (int k = 0; k < n_knots; ++k) {
    auto &row = in.row(2, "an error bar knot needs log10 rigidity and force RMSE");
    const double x = in.number(row[0]), rmse = in.number(row[1]);
    if (rmse < 0.0 || (k > 0 && x < B.knots.back()))
      in.fail("error bar knots must ascend, with force RMSE >= 0");
    B.knots.push_back(x);
    B.rmse2.push_back(rmse * rmse);
  }
  B.inverse.clear();
  for (int a = 0; a < width; ++a) {
    auto &row = in.row(width, "a row of the rigidity matrix needs " + std::to_string(width) +
                                  " values");
    for (int b = 0; b < width; ++b) B.inverse.push_back(in.number(row[b]));
  }
  B.width = width;
}

void PairGdfnn::read_functions(PotentialText &in, Element &E)
{
  int nf = in.integer(in.expect("functions", 2)[1]);
  E.cutoff = 0.0;
  for (int f = 0; f < nf; ++f) {
    auto &l = in.expect("f", 9);
    Function F;
    F.kind = in.integer(l[1]);
    if (F.kind != 2 && F.kind != 4 && F.kind != 5) in.fail("unknown function type " + l[1]);
    F.n1 = in.element_of(l[2]);
    F.n2 = F.kind == 2 ? -1 : in.element_of(l[3]);
    F.rc = in.number(l[4]);
    F.eta = in.number(l[5]);
    F.rs = in.number(l[6]);
    F.zeta = in.number(l[7]);
    F.lambda = in.number(l[8]);
    F.norm = std::pow(2.0, 1.0 - F.zeta);
    F.izeta = (F.zeta == std::floor(F.zeta) && F.zeta <= 64) ? (int) F.zeta : -1;
    E.cutoff = std::max(E.cutoff, F.rc);
    E.functions.push_back(F);
  }
}

void PairGdfnn::read_range(PotentialText &in, Element &E)
{
  if (!in.next_is("range_min")) return;
  const size_t nf = E.functions.size();
  auto &lo = in.expect("range_min", 1 + nf);
  auto &hi = in.expect("range_max", 1 + nf);
  for (size_t f = 0; f < nf; ++f) {
    E.gmin.push_back(in.number(lo[1 + f]));
    E.gmax.push_back(in.number(hi[1 + f]));
  }
}

void PairGdfnn::read_layers(PotentialText &in, Element &E)
{
  int nl = in.integer(in.expect("layers", 2)[1]);
  int width = (int) E.functions.size();
  for (int L = 0; L < nl; ++L) {
    auto &l = in.expect("layer", 4);
    Layer layer;
    layer.n_out = in.integer(l[1]);
    layer.n_in = in.integer(l[2]);
    layer.activation = N_ACTIVATIONS;
    for (int a = 0; a < N_ACTIVATIONS; ++a)
      if (l[3] == ACTIVATION_NAMES[a]) layer.activation = (Activation) a;
    if (layer.activation == N_ACTIVATIONS) in.fail("unknown activation '" + l[3] + "'");
    if (layer.n_in != width) in.fail("layer input width does not match the previous layer");
    for (int r = 0; r < layer.n_out; ++r) {
      auto &row = in.row(layer.n_in + 1, "weight row needs " + std::to_string(layer.n_in) +
                                              " weights and a bias");
      for (int c = 0; c < layer.n_in; ++c) layer.weight.push_back(in.number(row[c]));
      layer.bias.push_back(in.number(row[layer.n_in]));
    }
    width = layer.n_out;
    E.layers.push_back(layer);
  }
  if (width != 1) in.fail("the last layer must have one output (the atomic energy)");
}

void PairGdfnn::factorise(Element &E, int n_elements)
{
  E.ms.clear();
  E.qs.clear();
  E.cutoffs.clear();
  for (Function &F : E.functions) {
    F.ic = -1;
    for (int c = 0; c < (int) E.cutoffs.size(); ++c)
      if (E.cutoffs[c] == F.rc) F.ic = c;
    if (F.ic < 0) { E.cutoffs.push_back(F.rc); F.ic = (int) E.cutoffs.size() - 1; }
  }
  E.terms.assign((size_t) n_elements * n_elements, std::vector<Term>());
  for (int f = 0; f < (int) E.functions.size(); ++f) {
    const Function &F = E.functions[f];
    if (F.kind == 2) continue;
    int narrow = F.kind == 4, m = -1, q = -1;
    for (int c = 0; c < (int) E.ms.size(); ++c)
      if (E.ms[c].eta == F.eta && E.ms[c].rs == F.rs && E.ms[c].rc == F.rc &&
          E.ms[c].narrow == narrow) m = c;
    if (m < 0) { E.ms.push_back({F.eta, F.rs, F.rc, narrow, F.ic}); m = (int) E.ms.size() - 1; }
    for (int c = 0; c < (int) E.qs.size(); ++c)
      if (E.qs[c].zeta == F.zeta && E.qs[c].lambda == F.lambda) q = c;
    if (q < 0) { E.qs.push_back({F.zeta, F.lambda, F.norm, F.izeta}); q = (int) E.qs.size() - 1; }
    E.terms[(size_t) F.n1 * n_elements + F.n2].push_back({m, q, f});
    if (F.n1 != F.n2) E.terms[(size_t) F.n2 * n_elements + F.n1].push_back({m, q, f});
  }
  E.any_wide = false;
  E.narrow_rc = 0.0;
  for (const Angular &M : E.ms) {
    if (M.narrow) E.narrow_rc = std::max(E.narrow_rc, M.rc);
    else E.any_wide = true;
  }
}

void PairGdfnn::init_style()
{
  if (force->newton_pair == 0)
    error->all(FLERR, "pair_style gdfnn requires newton pair on (forces on ghost atoms are "
               "sent back by reverse communication)");
  if (elements.empty()) error->all(FLERR, "pair_style gdfnn: pair_coeff was not given");
  neighbor->add_request(this, NeighConst::REQ_FULL);
  grow_per_atom();    // fix pair asks for the per-atom arrays before the first step
}

double PairGdfnn::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "pair_style gdfnn: all pair coeffs are not set");
  return cutmax;
}

void *PairGdfnn::extract_peratom(const char *name, int &ncol)
{
  ncol = 0;
  if (strcmp(name, "extrapolation") == 0) return (void *) extrapolation;
  if (strcmp(name, "rho") == 0 && coverage_every > 0) return (void *) rho;
  if (strcmp(name, "uncovered") == 0 && coverage_every > 0) return (void *) uncovered;
  if (strcmp(name, "force_error") == 0 && coverage_every > 0) return (void *) force_error;
  return nullptr;
}

void PairGdfnn::cutoff_function(double r, double rc, double &fc, double &dfc) const
{
  if (r >= rc) { fc = 0.0; dfc = 0.0; return; }
  if (cutoff_type == 2 || cutoff_type == 3) {
    double norm = cutoff_type == 3 ? TANH_NORM : 1.0;
    double t = std::tanh(1.0 - r / rc);
    fc = norm * t * t * t;
    dfc = -3.0 * norm * t * t * (1.0 - t * t) / rc;
    return;
  }
  double inner = cutoff_alpha * rc;
  if (r < inner) { fc = 1.0; dfc = 0.0; return; }
  double iw = 1.0 / (rc - inner), x = (r - inner) * iw, y = x - 1.0;
  switch (cutoff_type) {
    case 0: fc = 1.0; dfc = 0.0; break;
    case 1: fc = 0.5 * (std::cos(PI * x) + 1.0); dfc = -0.5 * PI * std::sin(PI * x) * iw; break;
    case 4: {
      double m = 1.0 - x * x;
      fc = std::exp(1.0 - 1.0 / m);
      dfc = -2.0 * x / (m * m) * fc * iw;
    } break;
    case 5: fc = (2.0 * x - 3.0) * x * x + 1.0; dfc = 6.0 * x * y * iw; break;
    case 6: fc = ((15.0 - 6.0 * x) * x - 10.0) * x * x * x + 1.0; dfc = -30.0 * x * x * y * y * iw;
      break;
    case 7: fc = (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x * x * x * x + 1.0;
      dfc = 140.0 * x * x * x * y * y * y * iw;
      break;
    default: fc = (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * std::pow(x, 5) + 1.0;
      dfc = -630.0 * std::pow(x * y, 4) * iw;
  }
}

template <typename real>
void PairGdfnn::cutoff_array(const real *r, int n, double rc, real *fc, real *dfc) const
{
  if (cutoff_type == 1 && cutoff_alpha == 0.0) {
    // SIMPLE-NN's cosine, vectorised, with one tan per distance: for h = pi r / (2 rc),
    // 0.5 (cos 2h + 1) = 1 / (1 + tan^2 h) and its derivative is -(pi / rc) tan h fc.
    const real k = (real) (PI / rc), half = (real) 0.5, one = 1, zero = 0, rcut = (real) rc;
#pragma omp simd
    for (int t = 0; t < n; ++t) {
      real inside = r[t] < rcut ? one : zero;
      real th = std::tan(half * k * (r[t] < rcut ? r[t] : zero));
      real value = inside / (one + th * th);
      fc[t] = value;
      dfc[t] = -k * th * value;
    }
    return;
  }
  for (int t = 0; t < n; ++t) {
    double value, slope;
    cutoff_function((double) r[t], rc, value, slope);
    fc[t] = (real) value;
    dfc[t] = (real) slope;
  }
}

void PairGdfnn::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  grow_per_atom();
  if (single_precision) compute_atoms(*scratch_float);
  else compute_atoms(*scratch_double);
}

void PairGdfnn::grow_per_atom()
{
  const int nmax = std::max(atom->nmax, 1);
  if (nmax > nmax_extrapolation) {
    nmax_extrapolation = nmax;
    memory->destroy(extrapolation);
    memory->create(extrapolation, nmax, "pair:extrapolation");
    for (int i = 0; i < nmax; ++i) extrapolation[i] = 0.0;
  }
  if (coverage_every > 0 && (int) hint.size() < nmax) {
    memory->destroy(rho);
    memory->destroy(uncovered);
    memory->destroy(force_error);
    memory->create(rho, nmax, "pair:rho");
    memory->create(uncovered, nmax, "pair:uncovered");
    memory->create(force_error, nmax, "pair:force_error");
    for (int i = 0; i < nmax; ++i) rho[i] = uncovered[i] = force_error[i] = 0.0;
    hint.assign(nmax, -1);    // hints speed the search up, never change its answer
  }
}

template <typename real>
void PairGdfnn::compute_atoms(Scratch<real> &s)
{
  int *type = atom->type;
  const bigint step = update->ntimestep;
  const bool exact = exact_every > 0 && step % exact_every == 0;
  const bool check = exact || (coverage_every > 0 && step % coverage_every == 0);
  const bool values = check && values_wanted(step);
  queued.resize(elements.size());
  // (the plugin is built with -ffast-math: no inf or NaN is relied on in comparisons)
  const double none = std::numeric_limits<double>::max();
  double extrapolating = 0.0, min_rho = none;
  double n_uncovered = 0.0, max_error = -1.0;
  for (int ii = 0; ii < list->inum; ++ii) {
    int i = list->ilist[ii];
    int ei = type_map[type[i]];
    extrapolation[i] = 0.0;
    if (coverage_every > 0) {
      rho[i] = force_error[i] = std::numeric_limits<double>::quiet_NaN();
      uncovered[i] = 0.0;
    }
    if (ei < 0) continue;
    const Element &E = elements[ei];
    neighbours(i, E, s);
    radial_terms(E, s);
    triplets(E, s);
    angular_terms(E, s);
    extrapolating += count_extrapolation(i, E);
    double Ei = network(E);
    if (check) {
      const double q = E.error_bar.width ? rigidity(E) : 0.0;
      if (!E.error_bar.knots.empty()) {
        force_error[i] = expected_error(E.error_bar, q);
        max_error = std::max(max_error, force_error[i]);
      }
      coverage(i, ei, exact, values, q, min_rho, n_uncovered);
    }
    if (eflag_global) eng_vdwl += Ei;
    if (eflag_atom) eatom[i] += Ei;
    radial_forces(E, s);
    angular_forces(E, s);
    scatter(i, s);
  }
  if (exact) exact_sums(min_rho, n_uncovered);
  pvector[0] = extrapolating;
  pvector[1] = n_uncovered;
  // compute pair sums pvector over ranks: the smallest rho and the largest expected error
  // of all ranks are shared here (one reduction: the error negated) and divided by the
  // number of ranks, so that each sum is that extreme (NaN: none known)
  double local[2] = {min_rho, -max_error}, global[2] = {min_rho, -max_error};
  if (check) MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_MIN, world);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  pvector[2] = check && global[0] < none ? global[0] / comm->nprocs : nan;
  pvector[3] = check && -global[1] >= 0.0 ? -global[1] / comm->nprocs : nan;
}

// ----- coverage: is the atom's GDF rho against its element's reference below the floor?
// Whether a check at step wants the values of the atoms below (thermo's smallest rho, dumps
// of per-atom rho): on the setup step and on thermo and dump steps; between them the count
// alone (fix halt) needs no full kernel sum.
bool PairGdfnn::values_wanted(bigint step) const
{
  return update->setupflag || step == output->next_thermo || step == output->next_dump_any;
}

// The verdict reads the rigidity where the file gives a ceiling and no rho threshold is set
bool PairGdfnn::by_rigidity(const Element &E) const
{
  return E.error_bar.ceiling > 0.0 && coverage_threshold <= 0.0;
}

void PairGdfnn::coverage(int i, int ei, bool exact, bool values, double rigidity,
                         double &min_rho, double &n_uncovered)
{
  const Element &E = elements[ei];
  const Coverage &C = E.coverage;
  const size_t D = C.shift.size();
  xq.resize(D);
  for (size_t d = 0; d < D; ++d) xq[d] = (net.G[d] - C.shift[d]) / C.scale[d];
  const bool rigid = by_rigidity(E);
  if (rigid && rigidity > E.error_bar.ceiling) {    // one comparison decides
    uncovered[i] = 1.0;
    n_uncovered += 1.0;
  }
  if (exact) {    // every kernel sum, for all atoms of the element at once (exact_sums)
    queued[ei].atoms.push_back(i);
    queued[ei].x.insert(queued[ei].x.end(), xq.begin(), xq.end());
    return;
  }
  if (rigid) {
    if (uncovered[i] > 0.0 && values) {    // rho of the atoms outside, where shown
      rho[i] = full_sum(C) / C.total;
      min_rho = std::min(min_rho, rho[i]);
    }
    return;
  }
  if (below(C, limit_of(C), hint[i])) {
    uncovered[i] = 1.0;
    n_uncovered += 1.0;
    if (values) {    // the exact value, where a thermo or dump step shows it
      rho[i] = full_sum(C) / C.total;
      min_rho = std::min(min_rho, rho[i]);
    }
  }
}

double PairGdfnn::limit_of(const Coverage &C) const
{
  const double level = coverage_threshold > 0.0 ? coverage_threshold : C.floor;
  return level * C.total * (1.0 - TIE);
}

// rho and the flag of every atom queued on an exact step: every kernel sum, SPAN reference
// points at a time (all points in one feature-major array: long vector loops), each span
// used for every queued atom while it is in cache
void PairGdfnn::exact_sums(double &min_rho, double &n_uncovered)
{
  for (size_t e = 0; e < queued.size(); ++e) {
    Queue &Q = queued[e];
    const Coverage &C = elements[e].coverage;
    const size_t D = C.shift.size(), M = C.weights.size();
    const int n = (int) Q.atoms.size();
    const double inv_h = C.inv_h, limit = limit_of(C);
    Q.sums.assign(n, 0.0);
    span.resize(SPAN);
    double *r2 = span.data();
    typedef Lanes<double> V;
    constexpr int lanes = sizeof(V) / sizeof(double);
    tile.resize(D * SPAN);
    for (size_t j0 = 0; j0 < M; j0 += SPAN) {
      const int m = (int) std::min((size_t) SPAN, M - j0);
      const double *w = &C.weights[j0];
      for (size_t d = 0; d < D; ++d)    // the span's points, contiguous (D, SPAN)
        std::copy(&C.flat[d * M + j0], &C.flat[d * M + j0] + m, &tile[d * SPAN]);
      for (int a = 0; a < n; ++a) {
        const double *x = &Q.x[(size_t) a * D];
        int j = 0;
        for (; j + lanes <= m; j += lanes) {    // a vector of points, its distance in register
          V acc = V();
          for (size_t d = 0; d < D; ++d) {
            const V t = x[d] - load<V>(&tile[d * SPAN + j]);
            acc += t * t;
          }
          store(&r2[j], acc);
        }
        for (; j < m; ++j) {
          double acc = 0.0;
          for (size_t d = 0; d < D; ++d) {
            const double t = x[d] - tile[d * SPAN + j];
            acc += t * t;
          }
          r2[j] = acc;
        }
        double total = 0.0;
#pragma omp simd reduction(+ : total)
        for (int j = 0; j < m; ++j) total += w[j] * std::exp(-inv_h * r2[j]);
        Q.sums[a] += total;
      }
    }
    const bool rigid = by_rigidity(elements[e]);    // flags already set by the rigidity
    for (int a = 0; a < n; ++a) {
      const int i = Q.atoms[a];
      rho[i] = Q.sums[a] / C.total;
      if (!rigid) {
        uncovered[i] = Q.sums[a] < limit ? 1.0 : 0.0;
        n_uncovered += uncovered[i];
      }
      min_rho = std::min(min_rho, rho[i]);
    }
    Q.atoms.clear();
    Q.x.clear();
  }
}

// sum_j w_j exp(-|x - y_j|^2 / h) over the points of cluster k, vectorised over the points,
// CHUNK points at a time; it stops once partial + the sum reaches stop (the caller needs no
// more: the atom is covered)
double PairGdfnn::cluster_sum(const Coverage &C, int k, double partial, double stop)
{
  const size_t D = C.shift.size(), first = C.offsets[k];
  const int size = C.offsets[k + 1] - C.offsets[k];
  const double *P = &C.points[first * D], *w = &C.weights[first], *x = xq.data();
  const double inv_h = C.inv_h;
  double total = 0.0, r2[CHUNK];
  for (int j0 = 0; j0 < size; j0 += CHUNK) {
    const int n = std::min(CHUNK, size - j0);
    for (int j = 0; j < CHUNK; ++j) r2[j] = 0.0;
    for (size_t d = 0; d < D; ++d) {
      const double xd = x[d], *p = P + d * size + j0;
#pragma omp simd
      for (int j = 0; j < n; ++j) r2[j] += (xd - p[j]) * (xd - p[j]);
    }
#pragma omp simd reduction(+ : total)
    for (int j = 0; j < n; ++j) total += w[j0 + j] * std::exp(-inv_h * r2[j]);
    if (partial + total >= stop) break;
  }
  return total;
}

// The bound of every cluster on the query's kernel sum, W_k exp(-(|x - c_k| - r_k)_+^2 / h),
// into bounds, the clusters not yet visited into order; returns what those can add at most.
double PairGdfnn::bound_clusters(const Coverage &C)
{
  const int K = C.clusters();
  const size_t D = C.shift.size();
  bounds.assign(K, 0.0);
  double *b = bounds.data();
  for (size_t d = 0; d < D; ++d) {
    const double xd = xq[d], *c = &C.centroids[d * K];
#pragma omp simd
    for (int k = 0; k < K; ++k) b[k] += (xd - c[k]) * (xd - c[k]);
  }
  order.clear();
  double total = 0.0;
  for (int k = 0; k < K; ++k) {
    const double gap = std::max(0.0, std::sqrt(b[k]) - C.radii[k]);
    b[k] = C.cluster_weights[k] * std::exp(-C.inv_h * gap * gap);
    if (!visited[k]) {
      order.push_back(k);
      total += b[k];
    }
  }
  return total;
}

// The clusters of order largest bound first, and into rest the bounds after each, summed
// from the smallest (a running difference would lose the small ones in its rounding).
void PairGdfnn::order_by_bound()
{
  const double *b = bounds.data();
  std::sort(order.begin(), order.end(), [b](int p, int q) { return b[p] > b[q]; });
  const int n = (int) order.size();
  rest.assign(n + 1, 0.0);
  for (int r = n - 1; r >= 0; --r) rest[r] = rest[r + 1] + b[order[r]];
}

// The kernel sum of the query, to 1e-14 of itself: clusters by their bounds until what the
// others can add is below that.
double PairGdfnn::full_sum(const Coverage &C)
{
  visited.assign(C.clusters(), 0);
  bound_clusters(C);
  order_by_bound();
  double total = 0.0;
  for (size_t r = 0; r < order.size(); ++r) {
    if (rest[r] <= 1e-14 * total) break;
    total += cluster_sum(C, order[r], 0.0, std::numeric_limits<double>::max());
  }
  return total;
}

// Whether the kernel sum of the query xq is below limit, certain (gdfnn.gdf.clusters): the
// cluster that covered the atom last and its nearest clusters first (in MD an environment
// moves little between checks); then clusters by their bounds, until the exact partial sum
// reaches the limit or the partial sum and the bounds left cannot.
bool PairGdfnn::below(const Coverage &C, double limit, int &last)
{
  const int K = C.clusters();
  visited.assign(K, 0);
  double partial = 0.0, largest = -1.0;
  if (last >= 0 && last < K) {
    for (int r = -1; r < C.n_near; ++r) {
      const int k = r < 0 ? last : C.near[(size_t) last * C.n_near + r];
      const double s = cluster_sum(C, k, partial, limit);
      visited[k] = 1;
      partial += s;
      if (s > largest) {    // the hint: the cluster adding the most
        largest = s;
        last = k;
      }
      if (partial >= limit) return false;
    }
  }
  // then the clusters left, largest bound first, BATCH at a time (nth_element, then a sort
  // of the batch); after each, what the others can add: the batch's bounds after it, summed
  // from the smallest, and the sum of the bounds beyond the batch
  double beyond = bound_clusters(C);
  if (partial + beyond < limit) return true;    // far below: no order needed
  const double *b = bounds.data();
  const auto larger = [b](int p, int q) { return b[p] > b[q]; };
  for (size_t begin = 0; begin < order.size(); begin += BATCH) {
    const size_t end = std::min(order.size(), begin + BATCH);
    std::nth_element(order.begin() + begin, order.begin() + end - 1, order.end(), larger);
    std::sort(order.begin() + begin, order.begin() + end, larger);
    beyond = 0.0;
    for (size_t r = end; r < order.size(); ++r) beyond += b[order[r]];
    rest.assign(end - begin + 1, beyond);
    for (size_t r = end - begin; r-- > 0;) rest[r] = rest[r + 1] + b[order[begin + r]];
    for (size_t r = begin; r < end; ++r) {
      const double s = cluster_sum(C, order[r], partial, limit);
      partial += s;
      if (s > largest) {
        largest = s;
        last = order[r];
      }
      if (partial >= limit) return false;
      if (partial + rest[r - begin + 1] < limit) return true;
    }
  }
  return partial < limit;
}

// ----- neighbours within the element's cutoff, ordered by element, and the cutoff of every
// neighbour distance, once per distinct rc
template <typename real>
void PairGdfnn::neighbours(int i, const Element &E, Scratch<real> &s)
{
  double **x = atom->x;
  int *type = atom->type;
  const int n_el = (int) elements.size();
  const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
  s.raw_j.clear();
  int *jlist = list->firstneigh[i];
  for (int jj = 0; jj < list->numneigh[i]; ++jj) {
    int j = jlist[jj] & NEIGHMASK;
    if (type_map[type[j]] < 0) continue;
    double ax = x[j][0] - xi, ay = x[j][1] - yi, az = x[j][2] - zi;
    if (ax * ax + ay * ay + az * az < E.cutoff * E.cutoff) s.raw_j.push_back(j);
  }
  const int n = s.n = (int) s.raw_j.size();
  s.block.assign(n_el + 1, 0);
  for (int j : s.raw_j) ++s.block[type_map[type[j]] + 1];
  for (int e = 0; e < n_el; ++e) s.block[e + 1] += s.block[e];
  s.first.assign(s.block.begin(), s.block.end() - 1);
  for (auto *v : {&s.dx, &s.dy, &s.dz}) v->resize(n);
  for (auto *v : {&s.rx, &s.ry, &s.rz, &s.rr}) v->resize(n);
  s.nj.resize(n);
  for (int j : s.raw_j) {
    int a = s.first[type_map[type[j]]]++;
    s.nj[a] = j;
    s.dx[a] = x[j][0] - xi; s.dy[a] = x[j][1] - yi; s.dz[a] = x[j][2] - zi;
    s.rx[a] = (real) s.dx[a]; s.ry[a] = (real) s.dy[a]; s.rz[a] = (real) s.dz[a];
    s.rr[a] = (real) std::sqrt(s.dx[a] * s.dx[a] + s.dy[a] * s.dy[a] + s.dz[a] * s.dz[a]);
  }
  const int nc = (int) E.cutoffs.size();
  s.fcn.resize((size_t) nc * n);
  s.dfcn.resize((size_t) nc * n);
  for (int c = 0; c < nc; ++c)
    cutoff_array(s.rr.data(), n, E.cutoffs[c], &s.fcn[(size_t) c * n], &s.dfcn[(size_t) c * n]);
}

// ----- radial values into G, their derivatives by the distance for the force pass, and the
// leg factors of the angular terms
template <typename real>
void PairGdfnn::radial_terms(const Element &E, Scratch<real> &s)
{
  const int n = s.n, nf = (int) E.functions.size(), nm = (int) E.ms.size();
  const real two = 2;
  net.G.assign(nf, 0.0);
  s.dR.resize((size_t) nf * n);
  for (int q = 0; q < nf; ++q) {
    const Function &F = E.functions[q];
    if (F.kind != 2) continue;
    const int b0 = s.block[F.n1], b1 = s.block[F.n1 + 1];
    const real eta = (real) F.eta, rs = (real) F.rs, *rr = s.rr.data();
    const real *fc = &s.fcn[(size_t) F.ic * n], *dfc = &s.dfcn[(size_t) F.ic * n];
    real *d = &s.dR[(size_t) q * n];
    double total = 0.0;    // sums in double: G feeds the network through 1/range
#pragma omp simd reduction(+ : total)
    for (int a = b0; a < b1; ++a) {
      const real r = rr[a] - rs, g = std::exp(-eta * r * r);
      total += (double) (g * fc[a]);
      d[a] = g * (dfc[a] - two * eta * r * fc[a]);
    }
    net.G[q] += total;
  }
  s.fm.resize((size_t) nm * n);
  s.dfm.resize((size_t) nm * n);
  for (int m = 0; m < nm; ++m) {
    const Angular &M = E.ms[m];
    const real eta = (real) M.eta, rs = (real) M.rs, *rr = s.rr.data();
    const real *fc = &s.fcn[(size_t) M.ic * n], *dfc = &s.dfcn[(size_t) M.ic * n];
    real *f1 = &s.fm[(size_t) m * n], *d1 = &s.dfm[(size_t) m * n];
#pragma omp simd
    for (int a = 0; a < n; ++a) {
      real r = rr[a] - rs, g = std::exp(-eta * r * r);
      f1[a] = g * fc[a];
      d1[a] = g * (dfc[a] - two * eta * r * fc[a]);
    }
  }
}

// ----- triplets: neighbour pairs (a < b) that can contribute, bucket by bucket of the
// element pair k = e_a * n_el + e_b (e_a <= e_b); their r_jk and cos
template <typename real>
void PairGdfnn::triplets(const Element &E, Scratch<real> &s)
{
  const int n = s.n, n_el = (int) elements.size();
  const int nm = (int) E.ms.size(), nq = (int) E.qs.size();
  const real one = 1, two = 2, minus_one = -1;
  const size_t T = s.T = (size_t) n * (n > 0 ? n - 1 : 0) / 2;    // at most this many
  for (auto *v : {&s.cosv, &s.rjk, &s.fcj, &s.dfcj, &s.ga, &s.gb, &s.gc, &s.gj}) v->resize(T);
  for (auto *v : {&s.kaa, &s.kbb, &s.kab}) v->resize(T);
  s.ta.resize(T);
  s.tb.resize(T);
  s.Aq.resize(T * nq);
  s.dAq.resize(T * nq);
  for (auto *v : {&s.Pm, &s.dPa, &s.dPb, &s.dPj}) v->resize(T * nm);
  s.bucket.assign((size_t) n_el * n_el + 1, 0);
  s.work.resize(n);    // a row's squared distances, in the compaction below
  const real keep2 = E.any_wide ? std::numeric_limits<real>::max()
                                : (real) (E.narrow_rc * E.narrow_rc);
  const real *rx = s.rx.data(), *ry = s.ry.data(), *rz = s.rz.data();
  real *work = s.work.data(), *rjk = s.rjk.data();
  int *ta = s.ta.data(), *tb = s.tb.data();
  size_t nt = 0;
  for (int ea = 0; ea < n_el; ++ea)
    for (int eb = 0; eb < n_el; ++eb) {
      s.bucket[ea * n_el + eb] = nt;
      if (eb < ea) continue;
      for (int a = s.block[ea]; a < s.block[ea + 1]; ++a) {
        const int b0 = std::max(a + 1, s.block[eb]), b1 = s.block[eb + 1];
        const real ax = rx[a], ay = ry[a], az = rz[a];
#pragma omp simd
        for (int b = b0; b < b1; ++b) {
          real cx = rx[b] - ax, cy = ry[b] - ay, cz = rz[b] - az;
          work[b] = cx * cx + cy * cy + cz * cz;
        }
        for (int b = b0; b < b1; ++b) {
          ta[nt] = a;    // written always, kept (nt advances) only when it can contribute
          tb[nt] = b;
          rjk[nt] = work[b];
          nt += work[b] < keep2;
        }
      }
    }
  s.bucket[(size_t) n_el * n_el] = s.nt = nt;
  // cos from the three distances (r_a^2 + r_b^2 - r_jk^2) / (2 r_a r_b): two gathers
  const real *rr = s.rr.data();
  real *cosv = s.cosv.data();
#pragma omp simd
  for (size_t t = 0; t < nt; ++t) {
    const real ra = rr[ta[t]], rb = rr[tb[t]], r2 = rjk[t];
    rjk[t] = std::sqrt(r2);
    real cs = (ra * ra + rb * rb - r2) / (two * ra * rb);
    cosv[t] = cs < minus_one ? minus_one : (cs > one ? one : cs);
  }
}

// ----- P_m = fm_a fm_b J_m with J_m = exp(-eta (r_jk - rs)^2) fc(r_jk) (1 for G5: eta 0,
// fc 1), the radial part of a triplet, and its derivatives by r_a, r_b and r_jk (the force
// pass then reads them without gathering the leg factors again); A_q = 2^(1-zeta) (1 +
// lambda cos)^zeta, the angular part; the angular values G_f = sum over the triplets of its
// element pair of A_q P_m
template <typename real>
void PairGdfnn::angular_terms(const Element &E, Scratch<real> &s)
{
  constexpr size_t lanes = sizeof(Lanes<real>) / sizeof(real);    // triplets per vector
  const int n = s.n, n_el = (int) elements.size();
  const int nm = (int) E.ms.size(), nq = (int) E.qs.size();
  const size_t T = s.T, nt = s.nt;
  const real one = 1, two = 2;
  const int *ta = s.ta.data(), *tb = s.tb.data();
  const real *rjk = s.rjk.data();
  real *fcj = s.fcj.data(), *dfcj = s.dfcj.data();
  double last_rc = -1.0;
  for (int m = 0; m < nm; ++m) {
    const Angular &M = E.ms[m];
    const real eta = M.narrow ? (real) M.eta : real(0), rs = (real) M.rs;
    real *P = &s.Pm[T * m], *Pa = &s.dPa[T * m], *Pb = &s.dPb[T * m], *Pj = &s.dPj[T * m];
    const real *f1 = &s.fm[(size_t) m * n], *d1 = &s.dfm[(size_t) m * n];
    if (!M.narrow) {
      std::fill(fcj, fcj + nt, one);
      std::fill(dfcj, dfcj + nt, real(0));
      last_rc = -1.0;
    } else if (M.rc != last_rc) {
      cutoff_array(rjk, (int) nt, M.rc, fcj, dfcj);
      last_rc = M.rc;
    }
#pragma omp simd
    for (size_t t = 0; t < nt; ++t) {
      const int a = ta[t], b = tb[t];
      const real d = rjk[t] - rs, g = std::exp(-eta * d * d);
      const real J = g * fcj[t], dJ = g * (dfcj[t] - two * eta * d * fcj[t]);
      const real fa = f1[a], fb = f1[b];
      P[t] = fa * fb * J;
      Pa[t] = d1[a] * fb * J;
      Pb[t] = fa * d1[b] * J;
      Pj[t] = fa * fb * dJ;
    }
  }
  for (int q = 0; q < nq; ++q) {
    const Power &Q = E.qs[q];
    const real lambda = (real) Q.lambda, norm = (real) Q.norm;
    real *Av = &s.Aq[T * q], *dAv = &s.dAq[T * q];
    const real *c = s.cosv.data();
    if (Q.izeta >= 1) {    // powers by repeated products, one vector of triplets at a time
      const real scale = (real) (Q.norm * Q.zeta * Q.lambda);
      size_t t = 0;
      for (; t + lanes <= nt; t += lanes)
        integer_power<Lanes<real>>(t, c, lambda, Q.izeta, norm, scale, Av, dAv);
      for (; t < nt; ++t) integer_power<real>(t, c, lambda, Q.izeta, norm, scale, Av, dAv);
    } else {
      const real zeta = (real) Q.zeta;
      for (size_t t = 0; t < nt; ++t) {
        real base = one + lambda * c[t], low = std::pow(base, zeta - one);
        Av[t] = norm * low * base;
        dAv[t] = norm * zeta * lambda * low;
      }
    }
  }
  for (int k = 0; k < n_el * n_el; ++k) {
    const size_t s0 = s.bucket[k], s1 = s.bucket[k + 1];
    if (s0 == s1) continue;
    for (const Term &term : E.terms[k]) {
      const real *Av = &s.Aq[T * term.q], *P = &s.Pm[T * term.m];
      double total = 0.0;
#pragma omp simd reduction(+ : total)
      for (size_t t = s0; t < s1; ++t) total += (double) (Av[t] * P[t]);
      net.G[term.f] += total;
    }
  }
}

// ----- functions outside their training range (n2p2's extrapolation test)
double PairGdfnn::count_extrapolation(int i, const Element &E)
{
  if (E.gmin.empty()) return 0.0;
  for (size_t q = 0; q < E.functions.size(); ++q)
    if (net.G[q] < E.gmin[q] || net.G[q] > E.gmax[q]) extrapolation[i] += 1.0;
  return extrapolation[i];
}

// ----- the network: E_i forward, then dE_i/dG backward (into net.dEdG)
double PairGdfnn::network(const Element &E)
{
  const size_t nlayers = E.layers.size();
  net.dact.resize(nlayers);
  net.act.resize(nlayers + 1);
  net.act[0] = net.G;
  for (size_t L = 0; L < nlayers; ++L) {
    const Layer &layer = E.layers[L];
    net.dact[L].resize(layer.n_out);
    net.act[L + 1].resize(layer.n_out);
    double *z = net.act[L + 1].data(), *dz = net.dact[L].data();
    const double *in = net.act[L].data();
    for (int r = 0; r < layer.n_out; ++r) {
      const double *w = &layer.weight[(size_t) r * layer.n_in];
      double sum = layer.bias[r];
      for (int c = 0; c < layer.n_in; ++c) sum += w[c] * in[c];
      z[r] = sum;
      dz[r] = 1.0;
    }
    if (L + 1 < nlayers) activate_all(layer.activation, z, dz, layer.n_out);
  }
  net.dEdG.assign(1, 1.0);
  for (size_t L = nlayers; L-- > 0;) {
    const Layer &layer = E.layers[L];
    net.prev.assign(layer.n_in, 0.0);
    for (int r = 0; r < layer.n_out; ++r) {
      double g = net.dEdG[r] * net.dact[L][r];
      const double *w = &layer.weight[(size_t) r * layer.n_in];
      for (int c = 0; c < layer.n_in; ++c) net.prev[c] += g * w[c];
    }
    net.dEdG.swap(net.prev);
  }
  return net.act[nlayers][0];
}

// ----- the last-layer rigidity of the atom whose network() ran last: h~^T C^-1 h~ (h~: the
// last hidden layer and a 1)
double PairGdfnn::rigidity(const Element &E) const
{
  const ErrorBar &B = E.error_bar;
  const int W = B.width;
  const double *h = net.act[E.layers.size() - 1].data();
  double q = 0.0;
  for (int a = 0; a < W; ++a) {
    const double *row = &B.inverse[(size_t) a * W];
    double sum = row[W - 1];
    for (int b = 0; b + 1 < W; ++b) sum += row[b] * h[b];
    q += (a + 1 < W ? h[a] : 1.0) * sum;
  }
  return q;
}

// the expected force error (eV/Å) of an atom of this rigidity, through the error map
double PairGdfnn::expected_error(const ErrorBar &B, double rigidity)
{
  const double x = std::log10(std::max(rigidity, 1e-300));
  const std::vector<double> &k = B.knots, &y = B.rmse2;
  const size_t n = k.size();
  if (x <= k[0]) return std::sqrt(y[0]);
  if (x >= k[n - 1]) return std::sqrt(y[n - 1]);
  const size_t hi = std::upper_bound(k.begin(), k.end(), x) - k.begin();
  const double t = (x - k[hi - 1]) / (k[hi] - k[hi - 1]);
  return std::sqrt(y[hi - 1] + t * (y[hi] - y[hi - 1]));
}

// ----- dE_i/dD_a of the radial functions: (sum_q w_q dG_q/dr_a) D_a / r_a, into fn
template <typename real>
void PairGdfnn::radial_forces(const Element &E, Scratch<real> &s)
{
  const int n = s.n, nf = (int) E.functions.size();
  s.rad.assign(n, 0);
  real *rad = s.rad.data();
  for (int q = 0; q < nf; ++q) {
    const Function &F = E.functions[q];
    if (F.kind != 2) continue;
    const real w = (real) net.dEdG[q], *d = &s.dR[(size_t) q * n];
#pragma omp simd
    for (int a = s.block[F.n1]; a < s.block[F.n1 + 1]; ++a) rad[a] += w * d[a];
  }
  s.fn.resize(3 * (size_t) n);
  for (int a = 0; a < n; ++a) {
    const real c = rad[a] / s.rr[a];
    s.fn[3 * a] = c * s.rx[a]; s.fn[3 * a + 1] = c * s.ry[a]; s.fn[3 * a + 2] = c * s.rz[a];
  }
}

// ----- dE_i/dD_a of the angular functions, added to fn: dE/dr_a, dE/dr_b, dE/dcos, dE/dr_jk
// per triplet, bucket by bucket (element pairs), in blocks of one vector of triplets and a
// scalar tail; then the chain rule to the neighbour vectors D_a, D_b (cos = D_a.D_b / (r_a
// r_b), r_jk = |D_b - D_a|): dE/dD_a = K_aa D_a + K_ab D_b and dE/dD_b = K_ab D_a + K_bb D_b
// with K_aa = (g_a - g_cos cos / r_a) / r_a + g_jk / r_jk, K_bb likewise and K_ab = g_cos /
// (r_a r_b) - g_jk / r_jk
template <typename real>
void PairGdfnn::angular_forces(const Element &E, Scratch<real> &s)
{
  constexpr size_t lanes = sizeof(Lanes<real>) / sizeof(real);
  const int n_el = (int) elements.size(), nm = (int) E.ms.size(), nq = (int) E.qs.size();
  const size_t T = s.T, nt = s.nt;
  const real one = 1;
  s.W.resize((size_t) nm * nq);
  s.block_scratch.resize(2 * (size_t) nq);
  s.tail_scratch.resize(2 * (size_t) nq);
  for (int k = 0; k < n_el * n_el; ++k) {
    const size_t s0 = s.bucket[k], s1 = s.bucket[k + 1];
    if (s0 == s1) continue;
    std::fill(s.W.begin(), s.W.end(), real(0));
    for (const Term &term : E.terms[k]) s.W[(size_t) term.m * nq + term.q] += (real) net.dEdG[term.f];
    size_t t = s0;
    for (; t + lanes <= s1; t += lanes)
      triplet_gradient(t, T, nm, nq, s.W.data(), s.Aq.data(), s.dAq.data(), s.Pm.data(),
                       s.dPa.data(), s.dPb.data(), s.dPj.data(), s.block_scratch.data(),
                       s.block_scratch.data() + nq, s.ga.data(), s.gb.data(), s.gc.data(),
                       s.gj.data());
    for (; t < s1; ++t)
      triplet_gradient(t, T, nm, nq, s.W.data(), s.Aq.data(), s.dAq.data(), s.Pm.data(),
                       s.dPa.data(), s.dPb.data(), s.dPj.data(), s.tail_scratch.data(),
                       s.tail_scratch.data() + nq, s.ga.data(), s.gb.data(), s.gc.data(),
                       s.gj.data());
  }
  const int *ta = s.ta.data(), *tb = s.tb.data();
  const real *rr = s.rr.data(), *cosv = s.cosv.data(), *rjk = s.rjk.data();
  const real *ga = s.ga.data(), *gb = s.gb.data(), *gc = s.gc.data(), *gj = s.gj.data();
  real *kaa = s.kaa.data(), *kbb = s.kbb.data(), *kab = s.kab.data();
#pragma omp simd
  for (size_t t = 0; t < nt; ++t) {
    const real ia = one / rr[ta[t]], ib = one / rr[tb[t]], cs = cosv[t];
    const real wj = rjk[t] > 0 ? gj[t] / rjk[t] : real(0);
    kaa[t] = (ga[t] - gc[t] * cs * ia) * ia + wj;
    kbb[t] = (gb[t] - gc[t] * cs * ib) * ib + wj;
    kab[t] = gc[t] * ia * ib - wj;
  }
  const real *rx = s.rx.data(), *ry = s.ry.data(), *rz = s.rz.data();
  real *fn = s.fn.data();
  for (size_t t = 0; t < nt; ++t) {
    const int a = ta[t], b = tb[t];
    const real xa = rx[a], ya = ry[a], za = rz[a], xb = rx[b], yb = ry[b], zb = rz[b];
    fn[3 * a] += kaa[t] * xa + kab[t] * xb;
    fn[3 * a + 1] += kaa[t] * ya + kab[t] * yb;
    fn[3 * a + 2] += kaa[t] * za + kab[t] * zb;
    fn[3 * b] += kab[t] * xa + kbb[t] * xb;
    fn[3 * b + 1] += kab[t] * ya + kbb[t] * yb;
    fn[3 * b + 2] += kab[t] * za + kbb[t] * zb;
  }
}

// ----- forces: F_j = -dE_i/dD_a, F_i = +dE_i/dD_a; virial per (i, j) pair
template <typename real>
void PairGdfnn::scatter(int i, Scratch<real> &s)
{
  double **f = atom->f;
  for (int a = 0; a < s.n; ++a) {
    int j = s.nj[a];
    double gx = s.fn[3 * a], gy = s.fn[3 * a + 1], gz = s.fn[3 * a + 2];
    f[i][0] += gx; f[i][1] += gy; f[i][2] += gz;
    f[j][0] -= gx; f[j][1] -= gy; f[j][2] -= gz;
    if (vflag_either)
      ev_tally_xyz(i, j, atom->nlocal, force->newton_pair, 0.0, 0.0, gx, gy, gz, -s.dx[a],
                   -s.dy[a], -s.dz[a]);
  }
}
