"""Loaded by scripts/without-native-bf16: torch's CPU capability checks answer "no native bf16".

Patched when `torch.cpu` is first imported (not at interpreter start, so commands that never import torch stay
as they are); subprocesses inherit it through PYTHONPATH.
"""

import importlib.abc
import importlib.util
import sys


class _AnswerNo(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "torch.cpu":
            return None
        sys.meta_path.remove(self)  # find the real module, then wrap its loader
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module._is_avx512_bf16_supported = lambda: False
            module._is_amx_tile_supported = lambda: False

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AnswerNo())
