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

inline double power(double base, int izeta, double zeta)
{
  if (izeta < 0) return std::pow(base, zeta);
  double out = 1.0;
  for (int k = 0; k < izeta; ++k) out *= base;
  return out;
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

void PairGdfnn::settings(int narg, char ** /*arg*/)
{
  if (narg != 0) error->all(FLERR, "pair_style gdfnn takes no arguments");
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
  E.terms.assign((size_t) n_elements * n_elements, std::vector<Term>());
  for (int f = 0; f < (int) E.functions.size(); ++f) {
    const Function &F = E.functions[f];
    if (F.kind == 2) continue;
    int narrow = F.kind == 4, m = -1, q = -1;
    for (int c = 0; c < (int) E.ms.size(); ++c)
      if (E.ms[c].eta == F.eta && E.ms[c].rs == F.rs && E.ms[c].rc == F.rc &&
          E.ms[c].narrow == narrow) m = c;
    if (m < 0) { E.ms.push_back({F.eta, F.rs, F.rc, narrow}); m = (int) E.ms.size() - 1; }
    for (int c = 0; c < (int) E.qs.size(); ++c)
      if (E.qs[c].zeta == F.zeta && E.qs[c].lambda == F.lambda) q = c;
    if (q < 0) { E.qs.push_back({F.zeta, F.lambda, F.norm, F.izeta}); q = (int) E.qs.size() - 1; }
    E.terms[(size_t) F.n1 * n_elements + F.n2].push_back({m, q, f});
    if (F.n1 != F.n2) E.terms[(size_t) F.n2 * n_elements + F.n1].push_back({m, q, f});
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

void PairGdfnn::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  double **x = atom->x;
  double **f = atom->f;
  int *type = atom->type;
  int nlocal = atom->nlocal;
  int newton_pair = force->newton_pair;
  int n_el = (int) elements.size();
  if (atom->nmax > nmax_extrapolation) {
    memory->destroy(extrapolation);
    nmax_extrapolation = atom->nmax;
    memory->create(extrapolation, nmax_extrapolation, "pair:extrapolation");
  }
  double extrapolating = 0.0;

  std::vector<int> nj, ne;
  std::vector<double> dx, dy, dz, rr, G, fn;
  std::vector<double> fm, dfm;                  // (m, neighbour): B-factor of one leg
  std::vector<double> A, dA, B, Bda, Bdb, Bdj, S, dS;
  std::vector<std::vector<double>> dact, act;

  for (int ii = 0; ii < list->inum; ++ii) {
    int i = list->ilist[ii];
    int ei = type_map[type[i]];
    extrapolation[i] = 0.0;
    if (ei < 0) continue;
    const Element &E = elements[ei];
    double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    // ----- neighbours within this element's cutoff
    nj.clear(); ne.clear(); dx.clear(); dy.clear(); dz.clear(); rr.clear();
    int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      int j = jlist[jj] & NEIGHMASK;
      int ej = type_map[type[j]];
      if (ej < 0) continue;
      double ax = x[j][0] - xi, ay = x[j][1] - yi, az = x[j][2] - zi;
      double r2 = ax * ax + ay * ay + az * az;
      if (r2 >= E.cutoff * E.cutoff) continue;
      nj.push_back(j); ne.push_back(ej);
      dx.push_back(ax); dy.push_back(ay); dz.push_back(az); rr.push_back(std::sqrt(r2));
    }
    const int n = (int) nj.size(), nf = (int) E.functions.size();
    const int nm = (int) E.ms.size(), nq = (int) E.qs.size();
    G.assign(nf, 0.0);
    // ----- per-leg angular factors exp(-eta (r - rs)^2) fc(r) and their r-derivatives
    fm.assign((size_t) nm * n, 0.0);
    dfm.assign((size_t) nm * n, 0.0);
    for (int m = 0; m < nm; ++m) {
      const Angular &M = E.ms[m];
      for (int a = 0; a < n; ++a) {
        if (rr[a] >= M.rc) continue;
        double fc, dfc, s = rr[a] - M.rs;
        cutoff_function(rr[a], M.rc, fc, dfc);
        double g = std::exp(-M.eta * s * s);
        fm[(size_t) m * n + a] = g * fc;
        dfm[(size_t) m * n + a] = g * (dfc - 2.0 * M.eta * s * fc);
      }
    }
    // ----- radial values
    for (int q = 0; q < nf; ++q) {
      const Function &F = E.functions[q];
      if (F.kind != 2) continue;
      for (int a = 0; a < n; ++a) {
        if (ne[a] != F.n1 || rr[a] >= F.rc) continue;
        double fc, dfc, s = rr[a] - F.rs;
        cutoff_function(rr[a], F.rc, fc, dfc);
        G[q] += std::exp(-F.eta * s * s) * fc;
      }
    }
    // ----- angular values: sum over pairs of legs of A_q(cos) B_m
    A.resize(nq); dA.resize(nq); B.resize(nm); Bda.resize(nm); Bdb.resize(nm); Bdj.resize(nm);
    S.resize(nm); dS.resize(nm);
    auto triplet = [&](int a, int b, double &cos, double &rjk, double &cx, double &cy,
                       double &cz, bool derivatives) {
      cx = dx[b] - dx[a]; cy = dy[b] - dy[a]; cz = dz[b] - dz[a];
      rjk = std::sqrt(cx * cx + cy * cy + cz * cz);
      cos = (dx[a] * dx[b] + dy[a] * dy[b] + dz[a] * dz[b]) / (rr[a] * rr[b]);
      cos = std::max(-1.0, std::min(1.0, cos));
      for (int q = 0; q < nq; ++q) {
        const Power &P = E.qs[q];
        double base = 1.0 + P.lambda * cos;
        double low = P.izeta >= 1 ? power(base, P.izeta - 1, 0.0) : std::pow(base, P.zeta - 1.0);
        A[q] = P.norm * low * base;
        dA[q] = P.norm * P.zeta * P.lambda * low;
      }
      for (int m = 0; m < nm; ++m) {
        const Angular &M = E.ms[m];
        double fa = fm[(size_t) m * n + a], fb = fm[(size_t) m * n + b];
        double J = 1.0, dJ = 0.0;
        if (M.narrow && fa != 0.0 && fb != 0.0) {
          double fc, dfc, s = rjk - M.rs;
          cutoff_function(rjk, M.rc, fc, dfc);
          double g = std::exp(-M.eta * s * s);
          J = g * fc;
          dJ = g * (dfc - 2.0 * M.eta * s * fc);
        }
        B[m] = fa * fb * J;
        if (derivatives) {
          Bda[m] = dfm[(size_t) m * n + a] * fb * J;
          Bdb[m] = fa * dfm[(size_t) m * n + b] * J;
          Bdj[m] = fa * fb * dJ;
        }
      }
    };
    for (int a = 0; a < n; ++a) {
      for (int b = a + 1; b < n; ++b) {
        const std::vector<Term> &terms = E.terms[(size_t) ne[a] * n_el + ne[b]];
        if (terms.empty()) continue;
        double cos, rjk, cx, cy, cz;
        triplet(a, b, cos, rjk, cx, cy, cz, false);
        for (const Term &t : terms) G[t.f] += A[t.q] * B[t.m];
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
      dact[L].assign(layer.n_out, 0.0);
      act[L + 1].assign(layer.n_out, 0.0);
      for (int r = 0; r < layer.n_out; ++r) {
        double z = layer.bias[r];
        const double *w = &layer.weight[(size_t) r * layer.n_in];
        for (int c = 0; c < layer.n_in; ++c) z += w[c] * act[L][c];
        double av, da;
        if (last) { av = z; da = 1.0; }
        else activate(layer.activation, z, av, da);
        dact[L][r] = da;
        act[L + 1][r] = av;
      }
    }
    double Ei = act[nlayers][0];
    std::vector<double> dEdG(1, 1.0);
    for (size_t L = nlayers; L-- > 0;) {
      const Layer &layer = E.layers[L];
      std::vector<double> prev(layer.n_in, 0.0);
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
    fn.assign(3 * (size_t) n, 0.0);
    for (int q = 0; q < nf; ++q) {
      const Function &F = E.functions[q];
      if (F.kind != 2 || dEdG[q] == 0.0) continue;
      for (int a = 0; a < n; ++a) {
        if (ne[a] != F.n1 || rr[a] >= F.rc) continue;
        double fc, dfc, s = rr[a] - F.rs;
        cutoff_function(rr[a], F.rc, fc, dfc);
        double coef = dEdG[q] * std::exp(-F.eta * s * s) * (dfc - 2.0 * F.eta * s * fc) / rr[a];
        fn[3 * a] += coef * dx[a]; fn[3 * a + 1] += coef * dy[a]; fn[3 * a + 2] += coef * dz[a];
      }
    }
    for (int a = 0; a < n; ++a) {
      for (int b = a + 1; b < n; ++b) {
        const std::vector<Term> &terms = E.terms[(size_t) ne[a] * n_el + ne[b]];
        if (terms.empty()) continue;
        double cos, rjk, cx, cy, cz;
        triplet(a, b, cos, rjk, cx, cy, cz, true);
        std::fill(S.begin(), S.end(), 0.0);
        std::fill(dS.begin(), dS.end(), 0.0);
        for (const Term &t : terms) {    // S_m = sum w A_q, dS_m = sum w dA_q/dcos
          S[t.m] += dEdG[t.f] * A[t.q];
          dS[t.m] += dEdG[t.f] * dA[t.q];
        }
        double ga = 0.0, gb = 0.0, gc = 0.0, gj = 0.0;    // dE/dra, dE/drb, dE/dcos, dE/drjk
        for (int m = 0; m < nm; ++m) {
          ga += S[m] * Bda[m];
          gb += S[m] * Bdb[m];
          gc += dS[m] * B[m];
          gj += S[m] * Bdj[m];
        }
        double ra = rr[a], rb = rr[b];
        double ux = dx[a] / ra, uy = dy[a] / ra, uz = dz[a] / ra;
        double vx = dx[b] / rb, vy = dy[b] / rb, vz = dz[b] / rb;
        // dcos/dDa = (v - cos u) / ra, dcos/dDb = (u - cos v) / rb, drjk/dDa = -c / rjk
        double wa = gc / ra, wb = gc / rb, wj = rjk > 0.0 ? gj / rjk : 0.0;
        fn[3 * a] += ga * ux + wa * (vx - cos * ux) - wj * cx;
        fn[3 * a + 1] += ga * uy + wa * (vy - cos * uy) - wj * cy;
        fn[3 * a + 2] += ga * uz + wa * (vz - cos * uz) - wj * cz;
        fn[3 * b] += gb * vx + wb * (ux - cos * vx) + wj * cx;
        fn[3 * b + 1] += gb * vy + wb * (uy - cos * vy) + wj * cy;
        fn[3 * b + 2] += gb * vz + wb * (uz - cos * vz) + wj * cz;
      }
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
