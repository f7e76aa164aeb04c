/* pair_style gdfnn: see pair_gdfnn.h and docs/lammps.md. */

#include "pair_gdfnn.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

using namespace LAMMPS_NS;

namespace {

const int FORMAT_VERSION = 1;
const double PI = 3.14159265358979323846;
const double TANH_NORM = 1.0 / std::pow(std::tanh(1.0), 3);

// activation names of the file, in the order of the codes below
const char *ACTIVATION_NAMES[] = {"linear", "tanh", "sigmoid", "softplus", "relu", "gaussian",
                                  "cos", "revlogistic", "exp", "harmonic", "silu"};
const int N_ACTIVATIONS = 11;

inline void activate(int code, double z, double &a, double &da)
{
  switch (code) {
    case 0: a = z; da = 1.0; break;
    case 1: a = std::tanh(z); da = 1.0 - a * a; break;
    case 2: a = 1.0 / (1.0 + std::exp(-z)); da = a * (1.0 - a); break;
    case 3:    // softplus as torch computes it (linear above 20)
      if (z > 20.0) { a = z; da = 1.0; }
      else { a = std::log1p(std::exp(z)); da = 1.0 / (1.0 + std::exp(-z)); }
      break;
    case 4: a = z > 0.0 ? z : 0.0; da = z > 0.0 ? 1.0 : 0.0; break;
    case 5: a = std::exp(-0.5 * z * z); da = -z * a; break;
    case 6: a = std::cos(z); da = -std::sin(z); break;
    case 7: { double s = 1.0 / (1.0 + std::exp(-z)); a = 1.0 - s; da = -s * (1.0 - s); } break;
    case 8: a = std::exp(-z); da = -a; break;
    case 9: a = z * z; da = 2.0 * z; break;
    default: { double s = 1.0 / (1.0 + std::exp(-z)); a = z * s; da = s * (1.0 + z * (1.0 - s)); }
  }
}

// activate() over n values in place (z becomes the activation, dz its derivative), with the
// activation fixed at compile time so that the loop vectorises (glibc's vector exp, tanh)
template <int code> void activate_n(double *z, double *dz, int n)
{
#pragma omp simd
  for (int r = 0; r < n; ++r) activate(code, z[r], z[r], dz[r]);
}

void activate_all(int code, double *z, double *dz, int n)
{
  static void (*const table[N_ACTIVATIONS])(double *, double *, int) = {
      activate_n<0>, activate_n<1>, activate_n<2>, activate_n<3>, activate_n<4>, activate_n<5>,
      activate_n<6>, activate_n<7>, activate_n<8>, activate_n<9>, activate_n<10>};
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

PairGdfnn::PairGdfnn(LAMMPS *lmp) : Pair(lmp)
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
  nextra = 1;
  pvector = new double[1];
  pvector[0] = 0.0;
}

PairGdfnn::~PairGdfnn()
{
  delete[] pvector;
  memory->destroy(extrapolation);
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
  // pair_style gdfnn [precision double|single]
  single_precision = 0;
  if (narg == 0) return;
  if (narg == 2 && strcmp(arg[0], "precision") == 0) {
    if (strcmp(arg[1], "single") == 0) { single_precision = 1; return; }
    if (strcmp(arg[1], "double") == 0) return;
  }
  error->all(FLERR, "pair_style gdfnn takes no arguments or 'precision double' or 'precision single'");
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
}

void PairGdfnn::read_file(const std::string &path)
{
  filename = path;
  std::ifstream in(path);
  if (!in) error->all(FLERR, "pair_style gdfnn: {}: cannot open the potential file", path);
  std::vector<std::vector<std::string>> lines;
  std::vector<int> numbers;
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    auto hash = raw.find('#');
    if (hash != std::string::npos) raw.erase(hash);
    std::istringstream words(raw);
    std::vector<std::string> fields;
    std::string w;
    while (words >> w) fields.push_back(w);
    if (!fields.empty()) {
      lines.push_back(fields);
      numbers.push_back(lineno);
    }
  }
  size_t k = 0;
  auto fail = [&](const std::string &what) {
    int at = k < numbers.size() ? numbers[k] : lineno;
    error->all(FLERR, "pair_style gdfnn: {} line {}: {}", path, at, what);
  };
  auto expect = [&](const char *key, size_t n_min) -> const std::vector<std::string> & {
    if (k >= lines.size()) fail(std::string("file ends where '") + key + "' was expected");
    if (lines[k][0] != key) fail(std::string("expected '") + key + "', got '" + lines[k][0] + "'");
    if (lines[k].size() < n_min) fail(std::string("'") + key + "' has too few values");
    return lines[k++];
  };
  auto number = [&](const std::string &text) -> double {
    try {
      size_t used = 0;
      double v = std::stod(text, &used);
      if (used != text.size()) throw std::invalid_argument(text);
      return v;
    } catch (std::exception &) {
      fail("not a number: '" + text + "'");
    }
    return 0.0;
  };
  if (lines.empty()) fail("empty file: not a gdfnn potential");
  auto &head = expect("gdfnn_potential", 2);
  if ((int) number(head[1]) != FORMAT_VERSION)
    fail("format version " + head[1] + ", this plugin reads version " +
         std::to_string(FORMAT_VERSION) + " (rebuild it with gdfnn lammps build)");
  auto &el = expect("elements", 2);
  int n_el = (int) number(el[1]);
  if ((int) el.size() != 2 + n_el) fail("'elements' count does not match the symbols");
  std::map<std::string, int> index;
  elements.assign(n_el, Element());
  for (int e = 0; e < n_el; ++e) {
    elements[e].symbol = el[2 + e];
    index[el[2 + e]] = e;
  }
  auto &ct = expect("cutoff_type", 3);
  cutoff_type = (int) number(ct[1]);
  cutoff_alpha = number(ct[2]);
  if (cutoff_type < 0 || cutoff_type > 8) fail("unknown cutoff_type " + ct[1]);
  auto element_of = [&](const std::string &s) -> int {
    auto it = index.find(s);
    if (it == index.end()) fail("unknown element '" + s + "'");
    return it->second;
  };
  cutmax = 0.0;
  for (int e = 0; e < n_el; ++e) {
    auto &head_e = expect("element", 2);
    Element &E = elements[element_of(head_e[1])];
    int nf = (int) number(expect("functions", 2)[1]);
    E.cutoff = 0.0;
    for (int f = 0; f < nf; ++f) {
      auto &l = expect("f", 9);
      Function F;
      F.kind = (int) number(l[1]);
      if (F.kind != 2 && F.kind != 4 && F.kind != 5) fail("unknown function type " + l[1]);
      F.n1 = element_of(l[2]);
      F.n2 = F.kind == 2 ? -1 : element_of(l[3]);
      F.rc = number(l[4]);
      F.eta = number(l[5]);
      F.rs = number(l[6]);
      F.zeta = number(l[7]);
      F.lambda = number(l[8]);
      F.norm = std::pow(2.0, 1.0 - F.zeta);
      F.izeta = (F.zeta == std::floor(F.zeta) && F.zeta <= 64) ? (int) F.zeta : -1;
      E.cutoff = std::max(E.cutoff, F.rc);
      E.functions.push_back(F);
    }
    cutmax = std::max(cutmax, E.cutoff);
    factorise(E, n_el);
    if (k < lines.size() && lines[k][0] == "range_min") {
      auto &lo = expect("range_min", 1 + nf);
      auto &hi = expect("range_max", 1 + nf);
      for (int f = 0; f < nf; ++f) {
        E.gmin.push_back(number(lo[1 + f]));
        E.gmax.push_back(number(hi[1 + f]));
      }
    }
    int nl = (int) number(expect("layers", 2)[1]);
    int width = nf;
    for (int L = 0; L < nl; ++L) {
      auto &l = expect("layer", 4);
      Layer layer;
      layer.n_out = (int) number(l[1]);
      layer.n_in = (int) number(l[2]);
      layer.activation = -1;
      for (int a = 0; a < N_ACTIVATIONS; ++a)
        if (l[3] == ACTIVATION_NAMES[a]) layer.activation = a;
      if (layer.activation < 0) fail("unknown activation '" + l[3] + "'");
      if (layer.n_in != width) fail("layer input width does not match the previous layer");
      for (int r = 0; r < layer.n_out; ++r) {
        if (k >= lines.size() || (int) lines[k].size() != layer.n_in + 1)
          fail("weight row needs " + std::to_string(layer.n_in) + " weights and a bias");
        for (int c = 0; c < layer.n_in; ++c) layer.weight.push_back(number(lines[k][c]));
        layer.bias.push_back(number(lines[k][layer.n_in]));
        ++k;
      }
      width = layer.n_out;
      E.layers.push_back(layer);
    }
    if (width != 1) fail("the last layer must have one output (the atomic energy)");
  }
  expect("end", 1);
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
}

double PairGdfnn::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "pair_style gdfnn: all pair coeffs are not set");
  return cutmax;
}

void *PairGdfnn::extract_peratom(const char *name, int &ncol)
{
  if (strcmp(name, "extrapolation") == 0) {
    ncol = 0;
    return (void *) extrapolation;
  }
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
  if (atom->nmax > nmax_extrapolation) {
    memory->destroy(extrapolation);
    nmax_extrapolation = atom->nmax;
    memory->create(extrapolation, nmax_extrapolation, "pair:extrapolation");
  }
  if (single_precision) compute_atoms<float>();
  else compute_atoms<double>();
}

template <typename real>
void PairGdfnn::compute_atoms()
{
  double **x = atom->x;
  double **f = atom->f;
  int *type = atom->type;
  int nlocal = atom->nlocal;
  int newton_pair = force->newton_pair;
  int n_el = (int) elements.size();
  double extrapolating = 0.0;
  const real one = 1, two = 2, minus_one = -1;
  constexpr size_t lanes = sizeof(Lanes<real>) / sizeof(real);    // triplets per vector

  std::vector<int> raw_j, nj, block, first, ta, tb;    // ta, tb: the neighbours of a triplet
  std::vector<size_t> bucket;
  std::vector<double> G, dEdG, prev;                        // per function, always double
  // per neighbour: D_a = x_j - x_i (components, double for the virial), |D_a|, dE_i/dD_a
  std::vector<double> dx, dy, dz;
  std::vector<real> rx, ry, rz, rr, fn, work;
  std::vector<real> fcn, dfcn;  // (distinct rc, neighbour): fc(r), dfc/dr
  std::vector<real> dR, rad;    // (radial function, neighbour): dG/dr; dE/dr per neighbour
  std::vector<real> fm, dfm;    // (m, neighbour): leg factor exp(-eta (r - rs)^2) fc(r), d/dr
  // per triplet (and per m or q): cos, r_jk, its cutoff, A_q, P_m and dP_m/d(r_a, r_b, r_jk),
  // gradients; W: dE/dG of an element pair's functions as an (m, q) matrix
  std::vector<real> cosv, rjk, fcj, dfcj, Aq, dAq, Pm, dPa, dPb, dPj, W, ga, gb, gc, gj;
  std::vector<Lanes<real>> block_scratch;
  std::vector<real> tail_scratch;
  std::vector<real> kaa, kbb, kab;    // chain-rule coefficients per triplet (below)
  std::vector<std::vector<double>> dact, act;

  for (int ii = 0; ii < list->inum; ++ii) {
    int i = list->ilist[ii];
    int ei = type_map[type[i]];
    extrapolation[i] = 0.0;
    if (ei < 0) continue;
    const Element &E = elements[ei];
    double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    // ----- neighbours within this element's cutoff, ordered by element (blocks)
    raw_j.clear();
    int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      int j = jlist[jj] & NEIGHMASK;
      if (type_map[type[j]] < 0) continue;
      double ax = x[j][0] - xi, ay = x[j][1] - yi, az = x[j][2] - zi;
      if (ax * ax + ay * ay + az * az < E.cutoff * E.cutoff) raw_j.push_back(j);
    }
    const int n = (int) raw_j.size();
    block.assign(n_el + 1, 0);
    for (int j : raw_j) ++block[type_map[type[j]] + 1];
    for (int e = 0; e < n_el; ++e) block[e + 1] += block[e];
    first.assign(block.begin(), block.end() - 1);
    nj.resize(n); dx.resize(n); dy.resize(n); dz.resize(n);
    rx.resize(n); ry.resize(n); rz.resize(n); rr.resize(n);
    for (int j : raw_j) {
      int e = type_map[type[j]], a = first[e]++;
      nj[a] = j;
      dx[a] = x[j][0] - xi; dy[a] = x[j][1] - yi; dz[a] = x[j][2] - zi;
      rx[a] = (real) dx[a]; ry[a] = (real) dy[a]; rz[a] = (real) dz[a];
      rr[a] = (real) std::sqrt(dx[a] * dx[a] + dy[a] * dy[a] + dz[a] * dz[a]);
    }
    const int nf = (int) E.functions.size(), nm = (int) E.ms.size(), nq = (int) E.qs.size();
    G.assign(nf, 0.0);
    // ----- the cutoff of every neighbour distance, once per distinct rc
    const int nc = (int) E.cutoffs.size();
    fcn.resize((size_t) nc * n);
    dfcn.resize((size_t) nc * n);
    for (int c = 0; c < nc; ++c)
      cutoff_array(rr.data(), n, E.cutoffs[c], &fcn[(size_t) c * n], &dfcn[(size_t) c * n]);
    // ----- radial values, and their derivatives by the distance for the force pass
    dR.resize((size_t) nf * n);
    for (int q = 0; q < nf; ++q) {
      const Function &F = E.functions[q];
      if (F.kind != 2) continue;
      const int b0 = block[F.n1], b1 = block[F.n1 + 1];
      const real eta = (real) F.eta, rs = (real) F.rs;
      const real *fc = &fcn[(size_t) F.ic * n], *dfc = &dfcn[(size_t) F.ic * n];
      real *d = &dR[(size_t) q * n];
      double total = 0.0;    // sums in double: G feeds the network through 1/range
#pragma omp simd reduction(+ : total)
      for (int a = b0; a < b1; ++a) {
        const real s = rr[a] - rs, g = std::exp(-eta * s * s);
        total += (double) (g * fc[a]);
        d[a] = g * (dfc[a] - two * eta * s * fc[a]);
      }
      G[q] += total;
    }
    // ----- leg factors of the angular terms
    fm.resize((size_t) nm * n);
    dfm.resize((size_t) nm * n);
    for (int m = 0; m < nm; ++m) {
      const Angular &M = E.ms[m];
      const real eta = (real) M.eta, rs = (real) M.rs;
      const real *fc = &fcn[(size_t) M.ic * n], *dfc = &dfcn[(size_t) M.ic * n];
      real *f1 = &fm[(size_t) m * n], *d1 = &dfm[(size_t) m * n];
#pragma omp simd
      for (int a = 0; a < n; ++a) {
        real s = rr[a] - rs, g = std::exp(-eta * s * s);
        f1[a] = g * fc[a];
        d1[a] = g * (dfc[a] - two * eta * s * fc[a]);
      }
    }
    // ----- triplets: neighbour pairs (a < b) that can contribute, bucket by bucket of the
    // element pair k = e_a * n_el + e_b (e_a <= e_b), bucket k in [bucket[k], bucket[k + 1])
    const size_t T = (size_t) n * (n > 0 ? n - 1 : 0) / 2;    // at most this many triplets
    for (auto *v : {&cosv, &rjk, &fcj, &dfcj, &ga, &gb, &gc, &gj}) v->resize(T);
    for (auto *v : {&kaa, &kbb, &kab}) v->resize(T);
    ta.resize(T); tb.resize(T);
    Aq.resize(T * nq); dAq.resize(T * nq);
    for (auto *v : {&Pm, &dPa, &dPb, &dPj}) v->resize(T * nm);
    bucket.assign((size_t) n_el * n_el + 1, 0);
    work.resize(n);    // a row's squared distances, in the compaction below
    const real keep2 = E.any_wide ? std::numeric_limits<real>::max()
                                  : (real) (E.narrow_rc * E.narrow_rc);
    size_t nt = 0;
    for (int ea = 0; ea < n_el; ++ea)
      for (int eb = 0; eb < n_el; ++eb) {
        bucket[ea * n_el + eb] = nt;
        if (eb < ea) continue;
        for (int a = block[ea]; a < block[ea + 1]; ++a) {
          const int b0 = std::max(a + 1, block[eb]), b1 = block[eb + 1];
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
    bucket[(size_t) n_el * n_el] = nt;
    // cos from the three distances (r_a^2 + r_b^2 - r_jk^2) / (2 r_a r_b): two gathers
#pragma omp simd
    for (size_t s = 0; s < nt; ++s) {
      const real ra = rr[ta[s]], rb = rr[tb[s]], r2 = rjk[s];
      rjk[s] = std::sqrt(r2);
      real cs = (ra * ra + rb * rb - r2) / (two * ra * rb);
      cosv[s] = cs < minus_one ? minus_one : (cs > one ? one : cs);
    }
    // P_m = fm_a fm_b J_m with J_m = exp(-eta (r_jk - rs)^2) fc(r_jk) (1 for G5: eta 0,
    // fc 1), the radial part of a triplet, and its derivatives by r_a, r_b and r_jk (the
    // force pass then reads them without gathering the leg factors again);
    // A_q = 2^(1-zeta) (1 + lambda cos)^zeta, the angular part
    double last_rc = -1.0;
    for (int m = 0; m < nm; ++m) {
      const Angular &M = E.ms[m];
      const real eta = M.narrow ? (real) M.eta : real(0), rs = (real) M.rs;
      real *P = &Pm[T * m], *Pa = &dPa[T * m], *Pb = &dPb[T * m], *Pj = &dPj[T * m];
      const real *f1 = &fm[(size_t) m * n], *d1 = &dfm[(size_t) m * n];
      if (!M.narrow) {
        std::fill(fcj.begin(), fcj.begin() + nt, one);
        std::fill(dfcj.begin(), dfcj.begin() + nt, real(0));
        last_rc = -1.0;
      } else if (M.rc != last_rc) {
        cutoff_array(rjk.data(), (int) nt, M.rc, fcj.data(), dfcj.data());
        last_rc = M.rc;
      }
#pragma omp simd
      for (size_t s = 0; s < nt; ++s) {
        const int a = ta[s], b = tb[s];
        const real d = rjk[s] - rs, g = std::exp(-eta * d * d);
        const real J = g * fcj[s], dJ = g * (dfcj[s] - two * eta * d * fcj[s]);
        const real fa = f1[a], fb = f1[b];
        P[s] = fa * fb * J;
        Pa[s] = d1[a] * fb * J;
        Pb[s] = fa * d1[b] * J;
        Pj[s] = fa * fb * dJ;
      }
    }
    for (int q = 0; q < nq; ++q) {
      const Power &Q = E.qs[q];
      const real lambda = (real) Q.lambda, norm = (real) Q.norm;
      real *Av = &Aq[T * q], *dAv = &dAq[T * q];
      const real *c = cosv.data();
      if (Q.izeta >= 1) {    // powers by repeated products, one vector of triplets at a time
        const real scale = (real) (Q.norm * Q.zeta * Q.lambda);
        size_t s = 0;
        for (; s + lanes <= nt; s += lanes)
          integer_power<Lanes<real>>(s, c, lambda, Q.izeta, norm, scale, Av, dAv);
        for (; s < nt; ++s) integer_power<real>(s, c, lambda, Q.izeta, norm, scale, Av, dAv);
      } else {
        const real zeta = (real) Q.zeta;
        for (size_t s = 0; s < nt; ++s) {
          real base = one + lambda * c[s], low = std::pow(base, zeta - one);
          Av[s] = norm * low * base;
          dAv[s] = norm * zeta * lambda * low;
        }
      }
    }
    // ----- angular values: G_f = sum over the triplets of its element pair of A_q P_m
    for (int k = 0; k < n_el * n_el; ++k) {
      const size_t s0 = bucket[k], s1 = bucket[k + 1];
      if (s0 == s1) continue;
      for (const Term &t : E.terms[k]) {
        const real *Av = &Aq[T * t.q], *P = &Pm[T * t.m];
        double total = 0.0;
#pragma omp simd reduction(+ : total)
        for (size_t s = s0; s < s1; ++s) total += (double) (Av[s] * P[s]);
        G[t.f] += total;
      }
    }
    if (!E.gmin.empty()) {
      for (int q = 0; q < nf; ++q)
        if (G[q] < E.gmin[q] || G[q] > E.gmax[q]) extrapolation[i] += 1.0;
      extrapolating += extrapolation[i];
    }
    // ----- network forward, then dE/dG backward
    size_t nlayers = E.layers.size();
    dact.resize(nlayers);
    act.resize(nlayers + 1);
    act[0] = G;
    for (size_t L = 0; L < nlayers; ++L) {
      const Layer &layer = E.layers[L];
      bool last = L + 1 == nlayers;
      dact[L].resize(layer.n_out);
      act[L + 1].resize(layer.n_out);
      double *z = act[L + 1].data(), *dz = dact[L].data();
      for (int r = 0; r < layer.n_out; ++r) {
        const double *w = &layer.weight[(size_t) r * layer.n_in];
        double sum = layer.bias[r];
        for (int c = 0; c < layer.n_in; ++c) sum += w[c] * act[L][c];
        z[r] = sum;
        dz[r] = 1.0;
      }
      if (!last) activate_all(layer.activation, z, dz, layer.n_out);
    }
    double Ei = act[nlayers][0];
    dEdG.assign(1, 1.0);
    for (size_t L = nlayers; L-- > 0;) {
      const Layer &layer = E.layers[L];
      prev.assign(layer.n_in, 0.0);
      for (int r = 0; r < layer.n_out; ++r) {
        double g = dEdG[r] * dact[L][r];
        const double *w = &layer.weight[(size_t) r * layer.n_in];
        for (int c = 0; c < layer.n_in; ++c) prev[c] += g * w[c];
      }
      dEdG.swap(prev);
    }
    if (eflag_global) eng_vdwl += Ei;
    if (eflag_atom) eatom[i] += Ei;
    // ----- dE_i / dD_a for every neighbour a (D_a = x_j - x_i)
    // radial functions: dE_i/dD_a = (sum_q w_q dG_q/dr_a) D_a / r_a
    rad.assign(n, 0);
    for (int q = 0; q < nf; ++q) {
      const Function &F = E.functions[q];
      if (F.kind != 2) continue;
      const real w = (real) dEdG[q], *d = &dR[(size_t) q * n];
#pragma omp simd
      for (int a = block[F.n1]; a < block[F.n1 + 1]; ++a) rad[a] += w * d[a];
    }
    fn.resize(3 * (size_t) n);
    for (int a = 0; a < n; ++a) {
      const real c = rad[a] / rr[a];
      fn[3 * a] = c * rx[a]; fn[3 * a + 1] = c * ry[a]; fn[3 * a + 2] = c * rz[a];
    }
    // dE/dr_a, dE/dr_b, dE/dcos, dE/dr_jk per triplet, bucket by bucket (element pairs),
    // in blocks of one vector of triplets and a scalar tail
    W.resize((size_t) nm * nq);
    block_scratch.resize(2 * (size_t) nq);
    tail_scratch.resize(2 * (size_t) nq);
    for (int k = 0; k < n_el * n_el; ++k) {
      const size_t s0 = bucket[k], s1 = bucket[k + 1];
      if (s0 == s1) continue;
      std::fill(W.begin(), W.end(), real(0));
      for (const Term &t : E.terms[k]) W[(size_t) t.m * nq + t.q] += (real) dEdG[t.f];
      size_t s = s0;
      for (; s + lanes <= s1; s += lanes)
        triplet_gradient(s, T, nm, nq, W.data(), Aq.data(), dAq.data(), Pm.data(), dPa.data(),
                         dPb.data(), dPj.data(), block_scratch.data(), block_scratch.data() + nq,
                         ga.data(), gb.data(), gc.data(), gj.data());
      for (; s < s1; ++s)
        triplet_gradient(s, T, nm, nq, W.data(), Aq.data(), dAq.data(), Pm.data(), dPa.data(),
                         dPb.data(), dPj.data(), tail_scratch.data(), tail_scratch.data() + nq,
                         ga.data(), gb.data(), gc.data(), gj.data());
    }
    // chain rule to the neighbour vectors D_a, D_b (cos = D_a.D_b / (r_a r_b), r_jk =
    // |D_b - D_a|): dE/dD_a = K_aa D_a + K_ab D_b and dE/dD_b = K_ab D_a + K_bb D_b with
    // K_aa = (g_a - g_cos cos / r_a) / r_a + g_jk / r_jk, K_bb likewise and
    // K_ab = g_cos / (r_a r_b) - g_jk / r_jk
#pragma omp simd
    for (size_t s = 0; s < nt; ++s) {
      const real ia = one / rr[ta[s]], ib = one / rr[tb[s]], cs = cosv[s];
      const real wj = rjk[s] > 0 ? gj[s] / rjk[s] : real(0);
      kaa[s] = (ga[s] - gc[s] * cs * ia) * ia + wj;
      kbb[s] = (gb[s] - gc[s] * cs * ib) * ib + wj;
      kab[s] = gc[s] * ia * ib - wj;
    }
    for (size_t s = 0; s < nt; ++s) {
      const int a = ta[s], b = tb[s];
      const real xa = rx[a], ya = ry[a], za = rz[a], xb = rx[b], yb = ry[b], zb = rz[b];
      fn[3 * a] += kaa[s] * xa + kab[s] * xb;
      fn[3 * a + 1] += kaa[s] * ya + kab[s] * yb;
      fn[3 * a + 2] += kaa[s] * za + kab[s] * zb;
      fn[3 * b] += kab[s] * xa + kbb[s] * xb;
      fn[3 * b + 1] += kab[s] * ya + kbb[s] * yb;
      fn[3 * b + 2] += kab[s] * za + kbb[s] * zb;
    }
    // ----- forces: F_j = -dE_i/dD_a, F_i = +dE_i/dD_a; virial per (i, j) pair
    for (int a = 0; a < n; ++a) {
      int j = nj[a];
      double gx = fn[3 * a], gy = fn[3 * a + 1], gz = fn[3 * a + 2];
      f[i][0] += gx; f[i][1] += gy; f[i][2] += gz;
      f[j][0] -= gx; f[j][1] -= gy; f[j][2] -= gz;
      if (vflag_either)
        ev_tally_xyz(i, j, nlocal, newton_pair, 0.0, 0.0, gx, gy, gz, -dx[a], -dy[a], -dz[a]);
    }
  }
  pvector[0] = extrapolating;
}
