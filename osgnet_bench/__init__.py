"""osgnet-bench: the torch-free core (tracks, annotations, metrics, reports) and the CLI.

Importing this package never imports torch; everything that needs torch lives in ``trainers``
and is started as a separate process by the CLI.
"""

__version__ = "0.1.0"
