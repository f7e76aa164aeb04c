"""Data input: readers, the frame record, validation, splits and summaries."""

from gdfnn.data.n2p2 import read_n2p2, write_n2p2
from gdfnn.data.readers import read_structures
from gdfnn.data.sources import load_sources
from gdfnn.data.split import Split, split_by_group
from gdfnn.data.structure import Structure
from gdfnn.data.structure_list import SourceSpec, expand_braces, parse_structure_list
from gdfnn.data.summary import format_summary, summarize
from gdfnn.data.validation import validate_structure, validate_structures

__all__ = [
    "SourceSpec",
    "Split",
    "Structure",
    "expand_braces",
    "format_summary",
    "load_sources",
    "parse_structure_list",
    "read_n2p2",
    "read_structures",
    "split_by_group",
    "summarize",
    "validate_structure",
    "validate_structures",
    "write_n2p2",
]
