import ase.io
import pytest

from gdfnn.data import expand_braces, load_sources, parse_structure_list
from gdfnn.errors import InputError


def test_brace_expansion():
    assert expand_braces("a_{1..3}") == ["a_1", "a_2", "a_3"]
    assert expand_braces("x{08..10}") == ["x08", "x09", "x10"]
    assert expand_braces("{a,b}{1..2}") == ["a1", "a2", "b1", "b2"]
    assert expand_braces("{3..1}") == ["3", "2", "1"]
    assert expand_braces("plain{}") == ["plain{}"]


def test_structure_list_groups_weights_slices_globs(labelled_si, tmp_path):
    for k in range(1, 4):
        ase.io.write(tmp_path / f"md_{k}.xyz", labelled_si(4, seed=k))
    (tmp_path / "sub").mkdir()
    ase.io.write(tmp_path / "sub" / "vac.xyz", labelled_si(2, seed=9))
    listing = tmp_path / "structure_list"
    listing.write_text(
        "# bulk MD\n"
        "md_{1..2}.xyz ::2\n"
        "[ vacancy : 3.0 ]\n"
        "sub/*.xyz\n"
        "[hot]\n"
        "md_3.xyz 1:3   # trailing comment\n"
    )
    specs = parse_structure_list(listing)
    assert [(s.path.split("/")[-1], s.index, s.group, s.weight) for s in specs] == [
        ("md_1.xyz", "::2", "default", 1.0),
        ("md_2.xyz", "::2", "default", 1.0),
        ("vac.xyz", ":", "vacancy", 3.0),
        ("md_3.xyz", "1:3", "hot", 1.0),
    ]
    frames = load_sources(["structure_list"], base=tmp_path, progress=False)
    assert [s.group for s in frames] == ["default"] * 4 + ["vacancy"] * 2 + ["hot"] * 2
    assert [s.index for s in frames] == [0, 2, 0, 2, 0, 1, 1, 2]
    assert frames[4].weight == 3.0


@pytest.mark.parametrize(
    ("text", "message"),
    [("[ bulk : heavy ]\n", "not a number"), ("[ bulk \n", "bad group header"),
     ("nothing_*.xyz\n", "matches no file"), ("# only a comment\n", "names no files"),
     ("a.xyz :: extra\n", "expected 'path")],
)
def test_structure_list_errors_name_the_line(tmp_path, text, message):
    listing = tmp_path / "structure_list"
    listing.write_text(text)
    with pytest.raises(InputError, match=message):
        parse_structure_list(listing)
