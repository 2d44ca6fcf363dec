"""One side of the manifest-build ratio, for counting its CPU instructions under callgrind.

CPU seconds on a shared machine move with the other jobs' load; instruction counts do not. Each
process warms both paths (1,000 keys each), then runs one side once: `bare` (a bare listing of the
XML pages through the client sagechain lists with), `build` (prepare_dataset listing them and
writing the manifest) or `pages` (only writing the same XML pages, to subtract). Run each at two
sizes and take the difference, so that start-up cancels:

    for side in bare build pages; do for n in 1000 21000; do
      valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$side.$n \\
        .venv/bin/python -m bench.listing_instructions $side $n 2>&1 | grep Collected
    done; done

instructions a key = (I(21000) - I(1000)) / 20000 for each side; the ratio is
(build - pages) / (bare - pages), the build's once-a-run cost (I_build(1000) - I_bare(1000), less
1,000 keys' difference) added over the keys a run lists.
"""

import gc
import sys

from bench import manifest_build as mb


def write_pages(objects: int) -> None:
    """The XML pages a bare listing of `objects` keys is answered with, written and dropped."""
    for start in range(0, objects, mb.PAGE):
        end = min(start + mb.PAGE, objects)
        keys = [f"{mb.IMAGES}{i // mb.FOLDER:03}/img {i:07}.jpg" for i in range(start, end)]
        mb._page_xml(mb.IMAGES, keys, [], str(end) if end < objects else None, url_encoded=True)


def main() -> None:
    """Warm up, then run the side named on the command line once."""
    side, objects = sys.argv[1], int(sys.argv[2])
    if side == "pages":
        write_pages(1000)
    else:
        mb.bare_botocore_listing(1000, stock=False)
        mb.xml_build(1000)
    gc.collect()
    if side == "bare":
        mb.bare_botocore_listing(objects, stock=False)
    elif side == "build":
        mb.xml_build(objects)
    else:
        write_pages(objects)


if __name__ == "__main__":
    main()
