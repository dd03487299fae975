"""Every protocol and model names one commit of the code it follows: where a model and a protocol were read
from the same repository, `models info` and `protocols show` cite the same commit."""

from __future__ import annotations

import json
import re

from fabrec_bench.plugins import get_registry


def _cited(code: str) -> tuple[str, str] | None:
    """(repository, commit) from a model's `code` line: 'github.com/OWNER/NAME at COMMIT' or '(..., COMMIT;'."""
    found = re.search(r"github\.com/([\w.-]+/[\w.-]+)(?: at |[^,]*, )([0-9a-f]{7,40})\b", code)
    return (found[1], found[2]) if found else None


def test_protocols_show_and_models_info_cite_the_same_commits(cli):
    protocols = {}
    for name in list(get_registry().protocols):
        doc = json.loads(cli("protocols", "show", name, "--json").output)
        if doc["commit"]:
            assert re.fullmatch(r"[0-9a-f]{40}", doc["commit"]), name
            protocols[doc["repository"]] = (name, doc["commit"])
    shared = 0
    for model in list(get_registry().models):
        info = json.loads(cli("models", "info", model, "--json").output)
        cited = _cited(info.get("code", ""))
        if cited and cited[0] in protocols:
            name, commit = protocols[cited[0]]
            assert commit.startswith(cited[1]), f"models info {model} cites {cited[1]}, protocols show {name} {commit}"
            shared += 1
    assert shared >= 3  # hrnet, pipnet and star share a repository with a protocol
