import json

import pytest

pytest.importorskip("matscipy", reason="the experiment measures the SW reference")
pytest.importorskip("phonopy", reason="phonons need phonopy")


@pytest.mark.slow  # ~13 s: the default run keeps si-vacancy's, si-mlearn's and si-interstitial's
def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "si-equilibrium", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["properties"]) == {"reference", "nnp_c", "nnp_gdf"}
    reference = results["properties"]["reference"]
    assert reference["lattice_constant"] == pytest.approx(5.431, abs=2e-3)  # SW's own
    for m in results["properties"].values():
        assert {"lattice_constant", "bulk_modulus", "C11", "C12", "C44", "phonons"} <= set(m)
        assert len(m["phonons"]["points"]["X"]) == 6 and len(m["phonons"]["band_THz"]) == 5
    assert (tmp_path / "phonons_figS6.png").stat().st_size > 100
    assert "| reference |" in capsys.readouterr().out
