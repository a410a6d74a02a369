"""Import spyne without leaving a warning behind for the rest of the process.

spyne 2.14 bundles six 1.14, whose `_SixMetaPathImporter` sits on `sys.meta_path` and has no
PEP 451 `find_spec`. On Python 3.11 every import that reaches it (spyne's own Python 2 fallbacks,
and afterwards any optional import anywhere, such as urllib3 probing for brotlicffi) emits
"ImportWarning: _SixMetaPathImporter.find_spec() not found", which the test suite turns into an
error. six 1.16 fixed this by adding `find_spec`/`create_module`/`exec_module`; we add the same
three methods to spyne's copy, once, before anything else of spyne is used.
"""

from __future__ import annotations

import warnings
from importlib.machinery import ModuleSpec
from importlib.util import spec_from_loader
from types import ModuleType
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=ImportWarning, message="_SixMetaPathImporter")
    import spyne  # noqa: F401
    from spyne.util import six

_Importer: Any = six._SixMetaPathImporter


def _find_spec(self: Any, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
    if fullname in self.known_modules:
        return spec_from_loader(fullname, self)
    return None


def _create_module(self: Any, spec: ModuleSpec) -> ModuleType:
    module: ModuleType = self.load_module(spec.name)
    return module


def _exec_module(self: Any, module: ModuleType) -> None:
    pass


if not hasattr(_Importer, "find_spec"):
    _Importer.find_spec = _find_spec
    _Importer.create_module = _create_module
    _Importer.exec_module = _exec_module
