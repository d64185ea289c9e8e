"""palette.py — one colour per allocator, the same in every chart and every
report, and the order allocators are listed in.

The colour is a function of the allocator's NAME only (never of its position
in a file), so glibc is the same blue whichever JSON it comes from. The sbrk
policies share one warm family, light for the tutorial policy and darkest for
the default `sbrk`, so the ladder reads as one allocator growing up.
"""

import os
import zlib

# Allocators heapbench knows by name.
_FIXED = {
    "glibc": "#1f77b4",
    "jemalloc": "#2ca02c",
    "mimalloc": "#9467bd",
    "tcmalloc": "#d62728",
    # The sbrk ladder (allocator/sbrk/), light to dark in ladder order:
    # ColorBrewer's YlOrBr, whose steps move in hue (yellow, orange, brown)
    # as well as lightness, so neighbours stay apart.
    "sbrk-tutorial": "#fed35a",
    "sbrk-coalesce": "#fe9929",
    "sbrk-nextfit": "#e0620e",
    "sbrk-bestfit": "#b33f05",
    "sbrk-addrfit": "#7f2704",
    "sbrk": "#3d1302",
}


def _read_ladder():
    """The sbrk policies' order from allocator/sbrk/ladder.txt, the one copy
    the C registry, the tests and these charts share (read relative to this
    file: plots run from the source tree). The file lists the default
    `sbrk` first; the charts put it last, at the top of the ladder."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "allocator", "sbrk", "ladder.txt")
    with open(path) as f:
        names = [line.strip() for line in f]
    return [n for n in names if n and not n.startswith("#") and n != "sbrk"]


# The ladder's known order, below `sbrk`; other sbrk-* policies go before
# `sbrk` in the order they first appear.
_LADDER = _read_ladder()
# Other sbrk-* policies: oranges and browns, none equal to the ones above.
_SBRK_FAMILY = ["#f16913", "#d94801", "#c9742c", "#b15928", "#8c510a", "#e08214",
                "#bf812d", "#993404"]
# Anything else: colours outside the warm family and outside _FIXED.
_OTHERS = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#393b79", "#637939",
           "#843c39", "#7b4173"]

_LEADING = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]


def is_sbrk(name):
    return name == "sbrk" or name.startswith("sbrk-")


def colour(name):
    if name in _FIXED:
        return _FIXED[name]
    family = _SBRK_FAMILY if is_sbrk(name) else _OTHERS
    # crc32 rather than hash(): Python salts str hashes per process.
    return family[zlib.crc32(name.encode()) % len(family)]


def ladder(names):
    """The sbrk policies among names, in ladder order: the tutorial policy,
    the known rungs, any other sbrk-* policy in the order it first appears
    (the order the replay measured them in), then the default `sbrk`."""
    names = list(dict.fromkeys(names))
    known = [n for n in _LADDER if n in names]
    others = [n for n in names if is_sbrk(n) and n not in _LADDER and n != "sbrk"]
    return known + others + [n for n in ["sbrk"] if n in names]


def order(names):
    """Allocators in report order: the well-known ones, any others
    alphabetically, then the sbrk ladder."""
    names = list(dict.fromkeys(names))
    leading = [n for n in _LEADING if n in names]
    others = sorted(n for n in names if n not in _LEADING and not is_sbrk(n))
    return leading + others + ladder(names)
