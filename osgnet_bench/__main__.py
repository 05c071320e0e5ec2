"""``python -m osgnet_bench``: the same command line as ``osgnet-bench``."""

from osgnet_bench.cli import main

if __name__ == "__main__":
    main()
