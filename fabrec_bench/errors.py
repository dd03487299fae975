"""Errors meant for users: one sentence naming the file, line or value at fault."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (files, options, configuration); the CLI exits with code 2."""

    exit_code = 2


def refuse_unknown(given, known, where: str, what: str = "option") -> None:
    """One sentence for every 'unknown name' refusal: where it happened, the unknown names and the known ones,
    e.g. "model '3fabrec': unknown option(s) batchsize; known: autoencoder, ..."."""
    unknown = set(given) - set(known)
    if unknown:
        raise UserError(f"{where}: unknown {what}(s) {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(sorted(known)) or 'none'}")


class DatasetError(UserError):
    """A dataset root, annotation file or image that cannot be used as it is."""


class AnnotationError(DatasetError):
    """A malformed annotation line; names the file and the 1-based line number."""

    def __init__(self, path, line_no: int | None, reason: str):
        self.path = path
        self.line_no = line_no
        self.reason = reason
        super().__init__(f"{path}:{line_no}: {reason}" if line_no else f"{path}: {reason}")


class PluginError(UserError):
    """An unknown or broken plugin-provided dataset, model or metric."""
