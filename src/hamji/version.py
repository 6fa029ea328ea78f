"""The package's version, read from its installed metadata: ``pyproject.toml`` is the one place it is written."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("hamji")
except PackageNotFoundError:  # a source tree put on the path without installing it
    VERSION = "0+unknown"
