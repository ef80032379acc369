"""tracker: screen research collaborations against dated restricted-institution lists.

A flag is evidence for human review, not a determination.  "No findings" never means
"cleared": it means no tie was found in the data read, with the gaps the run record lists.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracker")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.1.0"

__all__ = ["__version__"]
