"""The version of pylts, written once: the package, the command line and the build (pyproject.toml) read it here.

It has a module of its own so that what prints it (the command line) does not depend on ``pylts/__init__.py``,
which names every public model and operation for the type checker.

>>> import pylts
>>> pylts.__version__ == __version__
True
"""

__version__ = "0.1.0"
