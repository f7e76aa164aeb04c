/* pair_style gdfnn: Behler-Parrinello neural-network potentials written by
   `gdfnn export POT --to lammps` (a self-describing text file, docs/lammps.md).

   Symmetry functions G2 (radial), G4 (narrow angular), G5 (wide angular) with n2p2's cutoff
   family, per-element multilayer perceptrons, analytic forces. Full neighbour list; forces on
   ghost atoms go back through LAMMPS's reverse communication (newton_pair on), so the style
   runs under MPI domain decomposition. Global and per-atom energy and virial; a per-atom
   extrapolation count (functions outside their training range) for `fix pair`, and its
   global sum for `compute pair gdfnn`. Units metal (Å, eV).

   `pair_style gdfnn precision single` computes the symmetry functions and their derivatives
   in float32 (twice the SIMD width); the network, energies, the extrapolation count and the
   sums over atoms stay in double.

   `pair_style gdfnn coverage N [exact M] [threshold RHO]` checks every N steps whether each
   atom is covered by the training data: its GDF rho against the reference the file carries
   (format 2) is at least its element's coverage floor, or RHO; exact rho for every atom
   every M steps, and for uncovered atoms on thermo and dump steps. Where the file carries an
   error bar (format 3), each check also gives every atom's expected force error (eV/Å): the
   last-layer rigidity h~^T C^-1 h~ of its last hidden layer h~ = (h, 1), mapped by the
   potential's calibrated error map. Per atom `rho`, `uncovered` and `force_error` (fix pair);
   global: `compute pair gdfnn` gives [1] functions outside their training range, [2] the
   number of uncovered atoms, [3] the smallest rho known this step, [4] the largest expected
   force error this step (eV/Å; NaN without an error bar): `fix halt N v_err > 0.5` with
   `variable err equal c_ID[4]` stops a run where an atom's expected error passes 0.5 eV/Å. */

#ifdef PAIR_CLASS
// clang-format off
PairStyle(gdfnn,PairGdfnn);
// clang-format on
#else

#ifndef LMP_PAIR_GDFNN_H
#define LMP_PAIR_GDFNN_H

#include "pair.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairGdfnn : public Pair {
 public:
  PairGdfnn(class LAMMPS *);
  ~PairGdfnn() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void *extract_peratom(const char *, int &) override;

  // hidden-layer activations, in the order of ACTIVATION_NAMES (pair_gdfnn.cpp)
  enum Activation { LINEAR, TANH, SIGMOID, SOFTPLUS, RELU, GAUSSIAN, COS, REVLOGISTIC, EXP,
                    HARMONIC, SILU, N_ACTIVATIONS };
  struct Function {
    int kind;             // 2 radial, 4 narrow angular, 5 wide angular
    int n1, n2;           // neighbour element indices (n2 = -1 for radial)
    double rc, eta, rs, zeta, lambda;
    double norm;          // 2^(1 - zeta)
    int izeta;            // zeta when it is a small integer, else -1
    int ic;               // index of rc in Element::cutoffs
  };
  struct Layer {
    int n_out, n_in;
    Activation activation;
    std::vector<double> weight;    // (n_out, n_in), row-major
    std::vector<double> bias;      // (n_out,)
  };
  // The angular functions factorise: term = A_q(cos) * B_m(r_ij, r_ik, r_jk) with
  // A_q = 2^(1-zeta) (1 + lambda cos)^zeta and B_m the Gaussian-cutoff product of one
  // distinct (eta, rs, rc, narrow) combination m.
  struct Angular { double eta, rs, rc; int narrow, ic; };
  struct Power { double zeta, lambda, norm; int izeta; };
  struct Term { int m, q, f; };
  // The GDF reference of an element (file format 2): the scaled training features in clusters
  // (cluster k is points offsets[k]..offsets[k + 1], stored feature-major: feature d of its
  // j-th point at points[offsets[k] * D + d * size_k + j]; centroids feature-major (D, K)).
  struct Coverage {
    double sigma = 0.0, floor = 0.0, inv_h = 0.0, total = 0.0;
    std::vector<double> shift, scale;                         // x = (G - shift) / scale
    std::vector<double> points, weights;                      // (M * D), (M,)
    std::vector<int> offsets;                                 // (K + 1,)
    std::vector<double> centroids, radii, cluster_weights;    // (D * K), (K,), (K,)
    std::vector<int> near;                                    // (K, n_near) nearest clusters
    std::vector<double> flat;                                 // (D, M): all points at once
    int n_near = 0;
    int clusters() const { return offsets.empty() ? 0 : (int) offsets.size() - 1; }
  };
  // The last-layer rigidity h~^T C^-1 h~ of an element (file format 3; 4 adds the ceiling):
  // the expected force error is it mapped by the calibrated error map (linear in log10 of it
  // between the knots, on squared errors, flat beyond them; no knots: not calibrated), and
  // with a ceiling > 0 an atom above it lies outside the training data (the verdict; else
  // rho below the floor decides).
  struct ErrorBar {
    int width = 0;                       // H + 1, H the last hidden layer's width (0: none)
    std::vector<double> inverse;         // (width, width) C^-1, row-major
    std::vector<double> knots, rmse2;    // log10 rigidity (ascending) -> RMSE^2 (eV/Å)^2
    double ceiling = 0.0;
  };
  struct Element {
    std::string symbol;
    Coverage coverage;
    ErrorBar error_bar;
    std::vector<Function> functions;
    std::vector<Layer> layers;
    std::vector<double> gmin, gmax;    // training range per function (empty: not known)
    double cutoff;                     // largest rc of this element's functions
    std::vector<double> cutoffs;       // its distinct rc values
    std::vector<Angular> ms;           // distinct angular factors B_m
    std::vector<Power> qs;             // distinct angular powers A_q
    std::vector<std::vector<Term>> terms;    // per neighbour-pair index e1 * n + e2
    // Without wide (G5) factors every angular term has fc(r_jk): pairs of neighbours
    // farther apart than the largest narrow rc contribute nothing and are skipped.
    bool any_wide;
    double narrow_rc;
  };
  // The work arrays of one atom, in the precision of the symmetry functions (pair_gdfnn.cpp);
  // owned by the pair style, grown to the largest atom seen and never rebuilt.
  template <typename real> struct Scratch;
  // The network's values and gradients of one atom, always in double.
  struct NetworkScratch {
    std::vector<double> G, dEdG, prev;    // per function
    std::vector<std::vector<double>> act, dact;    // per layer
  };

 protected:
  std::vector<Element> elements;
  std::vector<int> type_map;           // LAMMPS type -> element index (-1: not this style)
  int cutoff_type;
  double cutoff_alpha, cutmax;
  int single_precision;                // symmetry functions and derivatives in float32
  std::string filename;
  int nmax_extrapolation;
  double *extrapolation;               // per-atom count of functions outside their range
  std::unique_ptr<Scratch<double>> scratch_double;
  std::unique_ptr<Scratch<float>> scratch_float;
  NetworkScratch net;
  int coverage_every, exact_every;     // steps between coverage checks, exact rho (0: never)
  double coverage_threshold;           // rho below which an atom is uncovered (0: the floor)
  double *rho, *uncovered;             // per atom: GDF rho (NaN: not computed), 1 if uncovered
  double *force_error;                 // per atom: expected force error, eV/Å (NaN: none)
  std::vector<int> hint;               // per atom: the cluster that covered it last
  std::vector<double> xq, bounds;      // one query's scaled features; the clusters' bounds
  std::vector<double> rest;            // the bounds of the clusters after each, in order
  std::vector<int> order;              // the clusters by bound, largest first
  std::vector<char> visited;           // clusters summed already, in one search
  struct Queue {                       // per element: atoms waiting for their exact sums
    std::vector<int> atoms;
    std::vector<double> x;             // their scaled features, (n, D)
    std::vector<double> sums;          // their kernel sums
  };
  std::vector<double> span, tile;      // squared distances to SPAN reference points; them
  std::vector<Queue> queued;

  class PotentialText;    // the file's rows, read in order (pair_gdfnn.cpp)
  void read_file(const std::string &);
  std::string read_on_rank0(const std::string &);
  void parse(const std::string &text);
  void read_functions(PotentialText &, Element &);
  void read_range(PotentialText &, Element &);
  void read_layers(PotentialText &, Element &);
  void read_coverage(PotentialText &, Element &);
  void read_error_bar(PotentialText &, Element &);
  void grow_per_atom();
  void coverage(int i, int element, bool exact, bool values, double rigidity,
                double &min_rho, double &n_uncovered);
  bool by_rigidity(const Element &) const;
  bool values_wanted(bigint step) const;
  double limit_of(const Coverage &) const;
  void exact_sums(double &min_rho, double &n_uncovered);
  double cluster_sum(const Coverage &, int k, double partial, double stop);
  double full_sum(const Coverage &);
  double bound_clusters(const Coverage &);
  void order_by_bound();
  bool below(const Coverage &, double limit, int &hint_of_atom);
  void factorise(Element &, int n_elements);
  void allocate();
  void cutoff_function(double r, double rc, double &fc, double &dfc) const;
  template <typename real>
  void cutoff_array(const real *r, int n, double rc, real *fc, real *dfc) const;

  // compute() in double or float32: the phases below for every local atom, in this order
  template <typename real> void compute_atoms(Scratch<real> &);
  template <typename real> void neighbours(int i, const Element &, Scratch<real> &);
  template <typename real> void radial_terms(const Element &, Scratch<real> &);
  template <typename real> void triplets(const Element &, Scratch<real> &);
  template <typename real> void angular_terms(const Element &, Scratch<real> &);
  double count_extrapolation(int i, const Element &);
  double network(const Element &);
  double rigidity(const Element &) const;
  static double expected_error(const ErrorBar &, double rigidity);
  template <typename real> void radial_forces(const Element &, Scratch<real> &);
  template <typename real> void angular_forces(const Element &, Scratch<real> &);
  template <typename real> void scatter(int i, Scratch<real> &);
};

}    // namespace LAMMPS_NS

#endif
#endif
