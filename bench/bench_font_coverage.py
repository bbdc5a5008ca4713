"""What the first document of a new web process spends learning which characters the bundled fonts print.

Before a document is rendered the web process checks every value against the bundled fonts
(glyphs.refusal) and picks the font families its HTML needs (glyphs.families_for); both read
glyphs.family_coverage(), once per process. It used to read every font file's cmap with fontTools;
it now reads reports/fonts/coverage.json, precomputed by reports/fonts/build.py. Each sample is a
fresh Python process that imports the glyphs module and times that first check (import time
excluded), with the precomputed file ("now") and with the fonts' cmaps ("before": the code path
the app had, kept as glyphs.coverage_from_fonts).

    .venv/bin/python bench/bench_font_coverage.py [--n 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess  # nosec B404  # runs this venv's Python on a fixed probe
import sys

from common import ROOT, print_machine

_PROBE = """
import sys, time
from practitioner.documents.pdf import glyphs
if sys.argv[1] == "before":
    glyphs._precomputed = lambda: None
    glyphs.log.disabled = True
html = '<html lang="en"><body><p>Zoë Lambert, 王芳, محمد, शर्मा</p></body></html>'
start = time.perf_counter()
assert glyphs.refusal({"patient": {"name": "Zoë Lambert 王芳 شرما"}}) is None
glyphs.families_for(html)
print(time.perf_counter() - start)
"""


def first_check_ms(mode: str) -> float:
    """One fresh process: the first refusal check and font choice, in milliseconds."""
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], cwd=ROOT, capture_output=True, text=True,  # nosec B603  # no shell, fixed arguments
                         check=True)
    return float(out.stdout.strip()) * 1000


def main() -> None:
    """Print the median and range of the first check in fresh processes, before and now."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=7, help="fresh processes per variant")
    args = parser.parse_args()
    print_machine()
    results = {}
    for mode in ("before", "now"):
        samples = [first_check_ms(mode) for _ in range(args.n)]
        results[mode] = statistics.median(samples)
        print(f"first font check in a fresh process, {mode:6}: n={args.n} median {results[mode]:7.1f} ms"
              f"  min {min(samples):7.1f}  max {max(samples):7.1f}")
    print(f"saved per new web process: {results['before'] - results['now']:.0f} ms "
          f"({results['before'] / results['now']:.0f}x faster)")


if __name__ == "__main__":
    main()
