import pytest

from gdfnn.descriptors import SymmetryFunction, SymmetryFunctions
from gdfnn.descriptors.params import DEFAULT_G2_ETA
from gdfnn.errors import InputError


def test_default_sets_have_simple_nn_sizes():
    one = SymmetryFunctions.default(["Si"])
    assert one.n_features == {"Si": 26} and one.cutoff == 6.0
    assert [f.eta for f in one.functions["Si"][:8]] == list(DEFAULT_G2_ETA)
    assert SymmetryFunctions.default(["Si", "O"]).n_features == {"Si": 70, "O": 70}


def test_simple_nn_params_round_trip_identically(tmp_path):
    sf = SymmetryFunctions.default(["Si", "O"])
    paths = sf.write_simple_nn(tmp_path)
    text = paths["O"].read_text()
    assert text.splitlines()[0] == "2 1 0 6.0 0.003214 0.0 0.0"
    assert "4 1 2 6.0 0.000357 1.0 -1.0" in text
    back = SymmetryFunctions.from_simple_nn(paths)
    assert back == sf
    back.write_simple_nn(tmp_path / "again")
    assert (tmp_path / "again" / "params_O").read_text() == text


def test_hand_written_params_file(tmp_path):
    path = tmp_path / "params_Si"
    path.write_text("2 1 0 6.0 0.5 1.5 0.0\n# comment\n\n5 1 1 5.0 0.1 2.0 -1.0\n")
    sf = SymmetryFunctions.from_simple_nn({"Si": path})
    assert sf.functions["Si"] == [SymmetryFunction(2, ("Si",), 6.0, 0.5, rs=1.5),
                                  SymmetryFunction(5, ("Si", "Si"), 5.0, 0.1, zeta=2.0, lam=-1.0)]


@pytest.mark.parametrize(
    ("line", "message"),
    [("4 1 1 6.0 0.1 0.5 1.0", "zeta must be >= 1"), ("2 1 0 0.0 0.1 0.0 0.0", "Rc = 0.0"),
     ("2 1 0 -6.0 0.1 0.0 0.0", "cutoff must be positive"), ("3 1 1 6.0 0.1 1.0 1.0",
                                                               "unknown symmetry-function type 3"),
     ("2 2 0 6.0 0.1 0.0 0.0", "element index 2 outside 1..1"), ("4 1 1 6.0 0.1 1.0 0.5",
                                                                  "lambda must be"),
     ("2 1 0 6.0 0.1", "expected 'type t1 t2"), ("2 a 0 6.0 0.1 0 0", "not numbers")],
)
def test_params_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "params_Si"
    path.write_text("2 1 0 6.0 0.5 0.0 0.0\n" + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        SymmetryFunctions.from_simple_nn({"Si": path})
    assert f"{path}: line 2: " in str(info.value)


def test_n2p2_lines_round_trip_with_units(mixed_set):
    sf = mixed_set()
    bohr = 0.529177210544
    lines = sf.to_n2p2_lines(length_factor=bohr)
    assert lines[0].startswith("symfunction_short Si 2 Si ")
    assert any(" 3 Si C " in line for line in lines) and any(" 9 C C " in line for line in lines)
    back = SymmetryFunctions.from_n2p2_lines(["Si", "C"], lines, length_factor=bohr)
    for e in sf.elements:
        for f, g in zip(sf.functions[e], back.functions[e], strict=True):
            assert (f.kind, f.neighbors, f.zeta, f.lam) == (g.kind, g.neighbors, g.zeta, g.lam)
            assert g.cutoff == pytest.approx(f.cutoff) and g.eta == pytest.approx(f.eta)
            assert g.rs == pytest.approx(f.rs)


@pytest.mark.parametrize(
    ("line", "message"),
    [("symfunction_short Si 12 Si 0.1 1 1 12.0", r"type 12 \(weighted radial\) is not supported"),
     ("symfunction_short Si 13 Si 0.1 1 1 12.0", r"type 13 \(weighted angular\)"),
     ("symfunction_short Si 21 Si Si 1 2 3 4 5", r"type 21 \(compact polynomial\)"),
     ("symfunction_short Si 2 Si x 0 12", "cannot parse"),
     ("symfunction_short Si 3 Si Si 0.1 1 0.5 12.0", r"cannot parse .*zeta must be >= 1")],
)
def test_n2p2_lines_that_do_not_map(line, message):
    with pytest.raises(InputError, match=message):
        SymmetryFunctions.from_n2p2_lines(["Si"], [line])


def test_dict_round_trip(mixed_set):
    sf = mixed_set()
    assert SymmetryFunctions.from_dict(sf.to_dict()) == sf


def test_shifted_angular_functions_round_trip_through_n2p2_lines():
    line = "symfunction_short Si 3 Si Si 0.1 -1 2.0 12.0 2.0"
    sf = SymmetryFunctions.from_n2p2_lines(["Si"], [line], length_factor=0.5)
    (f,) = sf.functions["Si"]
    assert (f.kind, f.rs, f.cutoff, f.eta, f.lam, f.zeta) == (4, 1.0, 6.0, 0.4, -1.0, 2.0)
    back = SymmetryFunctions.from_n2p2_lines(["Si"], sf.to_n2p2_lines(length_factor=0.5),
                                             length_factor=0.5)
    assert back == sf
    with pytest.raises(InputError, match="no shifted angular functions"):
        sf.write_simple_nn(".")


def test_cutoff_type_is_part_of_the_descriptor(mixed_set):
    sf = mixed_set()
    other = SymmetryFunctions(sf.elements, sf.functions, cutoff_type=6, cutoff_alpha=0.2)
    assert other != sf and SymmetryFunctions.from_dict(other.to_dict()) == other
    with pytest.raises(ValueError, match="unknown cutoff_type 9"):
        SymmetryFunctions(sf.elements, sf.functions, cutoff_type=9)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\)"):
        SymmetryFunctions(sf.elements, sf.functions, cutoff_type=6, cutoff_alpha=1.0)
    with pytest.raises(InputError, match="only the cosine cutoff"):
        other.write_simple_nn(".")
