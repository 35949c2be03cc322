"""Finished training runs, stored once and shared between benchmarks.

The LR-finder grid, the fixed budgets of the epoch benchmark and the oracle
of ``tools/benchmark.py`` train many of the same runs (same config, dataset,
LR, budget and seed). A :class:`RunCache` keys each result by everything
that defines the run, including a digest of the config files, so a changed
recipe is never served an old result, and an interrupted benchmark resumes
where it stopped.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, Iterable, Optional


def file_digest(paths: Iterable[str]) -> str:
    """Short SHA-256 over the contents of ``paths`` (in the given order)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()[:12]


def run_key(**fields) -> str:
    """Canonical text of a run's defining fields (order does not matter)."""
    return json.dumps(fields, sort_keys=True, default=str)


class RunCache:
    """Results of training runs in a JSON-lines file, one run per line.

    Args:
        path (str, optional): The file; None keeps results in memory only.
    """

    def __init__(self, path: Optional[str] = None):
        self.path = path
        self.results: Dict[str, dict] = {}
        if path and osp.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        entry = json.loads(line)
                        self.results[entry['key']] = entry['result']

    def __contains__(self, key: str) -> bool:
        return key in self.results

    def get_or_run(self, key: str, train: Callable[[], dict]) -> dict:
        """The stored result of ``key``, or ``train()``'s, stored first."""
        if key not in self.results:
            result = train()
            self.results[key] = result
            if self.path:
                os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
                with open(self.path, 'a') as f:
                    f.write(json.dumps(dict(key=key, result=result)) + '\n')
        return self.results[key]
