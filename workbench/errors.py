"""Errors the user sees. Each message names what was wrong, where, what was expected and what was got."""


class WorkbenchError(Exception):
    """Base class: the CLI prints these as one clear line instead of a traceback."""


class PoseFileError(WorkbenchError):
    """A pose file is missing, unreadable or malformed."""


class CatalogueError(WorkbenchError):
    """An exercise rule file is malformed, or an exercise is unknown."""


class UnknownExerciseError(CatalogueError):
    """The exercise key is not in the catalogue."""
