"""Where dataset files are looked for, in order, and how a failed search is reported.

The order is: epochal's own folder (``$EPOCHAL_DATA``, else the platform cache folder), then
Keras's download cache (so files a Keras user already downloaded are reused), then the system
folder that Debian/Ubuntu ``dataset-*`` packages install into. Each loader asks for its own
sub-paths inside these roots; nothing here knows about a particular dataset.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

# A module attribute rather than a constant inside functions, so tests can point it at a tmp folder.
SYSTEM_DATASETS_DIR = Path("/usr/share/datasets")

EPOCHAL_DATA_ENV = "EPOCHAL_DATA"


@dataclass(frozen=True)
class Place:
    """A root folder to search, with the words an error message uses for it."""

    folder: Path
    label: str


@dataclass(frozen=True)
class Candidate:
    """One possible copy of a dataset: files that must all exist, and where they were sought."""

    files: tuple[Path, ...]
    label: str

    def is_complete(self) -> bool:
        """True when every file of this copy exists."""
        return all(path.is_file() for path in self.files)

    def describe(self) -> str:
        """`path (label)` for a single file, `folder/ (label)` for a set of files in one folder."""
        where = str(self.files[0]) if len(self.files) == 1 else f"{self.files[0].parent}{os.sep}"
        return f"{where} ({self.label})"


def platform_cache_dir(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Return the per-user cache folder the platform expects, with an ``epochal`` sub-folder.

    Args:
        platform: A ``sys.platform`` value. Defaults to the running platform.
        environ: Environment variables to consult. Defaults to ``os.environ``.

    Returns:
        ``$XDG_CACHE_HOME/epochal`` or ``~/.cache/epochal`` on Linux and other Unixes,
        ``~/Library/Caches/epochal`` on macOS, ``%LOCALAPPDATA%\\epochal`` on Windows.

    Example:
        >>> str(platform_cache_dir("linux", {"XDG_CACHE_HOME": "/var/cache/me"}))
        '/var/cache/me/epochal'
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if platform == "win32":
        local = environ.get("LOCALAPPDATA")
        return Path(local) / "epochal" if local else Path.home() / "AppData" / "Local" / "epochal"
    if platform == "darwin":
        return Path.home() / "Library" / "Caches" / "epochal"
    xdg = environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "epochal"
    return Path.home() / ".cache" / "epochal"


def epochal_data_dir() -> Path:
    """Return epochal's dataset folder: ``$EPOCHAL_DATA`` if set, else the platform cache folder.

    Downloads are written here; it is also the first place searched.

    Example:
        >>> folder = epochal_data_dir()  # e.g. ~/.cache/epochal on Linux when EPOCHAL_DATA is unset
        >>> folder.name != ""
        True
    """
    configured = os.environ.get(EPOCHAL_DATA_ENV)
    if configured:
        return Path(configured).expanduser()
    return platform_cache_dir()


def keras_datasets_dir() -> Path:
    """Return the folder Keras downloads datasets into: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``.

    Like Keras, falls back to ``/tmp/.keras`` when the home folder is not writable.
    """
    configured = os.environ.get("KERAS_HOME")
    if configured:
        return Path(configured).expanduser() / "datasets"
    home = Path.home()
    base = home if os.access(home, os.W_OK) else Path("/tmp")
    return base / ".keras" / "datasets"


def search_places() -> list[Place]:
    """Return the root folders to search, first match wins."""
    if os.environ.get(EPOCHAL_DATA_ENV):
        own_label = f"${EPOCHAL_DATA_ENV}"
    else:
        own_label = f"epochal cache; set ${EPOCHAL_DATA_ENV} to use another folder"
    keras_label = "Keras cache, $KERAS_HOME" if os.environ.get("KERAS_HOME") else "Keras cache"
    return [
        Place(epochal_data_dir(), own_label),
        Place(keras_datasets_dir(), keras_label),
        Place(SYSTEM_DATASETS_DIR, "system folder of Debian/Ubuntu dataset packages"),
    ]


def first_complete(candidates: Iterable[Candidate]) -> Candidate | None:
    """Return the first candidate whose files all exist, or None."""
    return next((candidate for candidate in candidates if candidate.is_complete()), None)


def unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Drop repeated candidates (e.g. an absolute path joined to every root), keeping order."""
    seen: set[tuple[Path, ...]] = set()
    kept = []
    for candidate in candidates:
        if candidate.files not in seen:
            seen.add(candidate.files)
            kept.append(candidate)
    return kept


def format_searched(candidates: Iterable[Candidate]) -> str:
    """Number the searched places one per line, in search order, for a not-found message."""
    return "\n".join(
        f"  {number}. {candidate.describe()}" for number, candidate in enumerate(candidates, 1)
    )
