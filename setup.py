"""Builds the package with templates/, static/ and migrations/ inside it (the metadata is in setup.cfg).

A checkout keeps those folders at its top level, beside ``cloudcodes/``. An installed copy has no
checkout next to it, so the wheel carries them as ``cloudcodes/templates``, ``cloudcodes/static`` and
``cloudcodes/migrations``, which is where ``create_app`` looks first. An editable install
(``pip install -e .``) copies nothing: the app then finds them in the checkout.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGE = "cloudcodes"
SHIPPED_FOLDERS = ("templates", "static", "migrations")
SKIPPED_NAMES = ("__pycache__",)
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def shipped_files(folder: str) -> list[str]:
    """Every file under ``folder`` (relative to the checkout) that goes into the wheel."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if name not in SKIPPED_NAMES)
        found.extend(os.path.join(directory, name) for name in sorted(files) if not name.endswith(SKIPPED_SUFFIXES))
    return found


class BuildPyWithAppFolders(build_py):
    """``build_py``, then the app's folders copied under the package in the build directory."""

    def _app_files(self) -> list[tuple[str, str]]:
        return [
            (source, os.path.join(self.build_lib, PACKAGE, source))
            for folder in SHIPPED_FOLDERS
            for source in shipped_files(folder)
        ]

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the checkout serves them in place
            return
        for source, target in self._app_files():
            self.mkpath(os.path.dirname(target))
            self.copy_file(source, target, preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [target for _, target in self._app_files()]


setup(cmdclass={"build_py": BuildPyWithAppFolders})
