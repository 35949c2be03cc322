"""The one writer of benchmark results: ``NAME.json`` (what was measured)
and ``NAME.md`` rendered from that JSON alone, so a table can always be
rebuilt from the stored numbers."""
import json
import os
import os.path as osp
import shlex
import sys
from typing import Callable, Dict, Optional, Sequence


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command that produced a result, as the tables quote it.

    Args:
        argv: The arguments (default ``sys.argv``).
    """
    return 'python ' + ' '.join(shlex.quote(a) for a in (argv or sys.argv))


def load_report(out_dir: str, name: str) -> Dict:
    """The payload a :func:`write_report` stored as ``NAME.json``.

    Args:
        out_dir: The folder of the results.
        name: The benchmark's file name, e.g. ``'benchmark'``.
    """
    with open(osp.join(out_dir, f'{name}.json')) as f:
        return json.load(f)


def write_report(out_dir: str, name: str, payload: Dict,
                 render: Callable[[Dict], str]) -> str:
    """Write ``payload`` to ``out_dir/NAME.json`` and ``render(payload)`` to
    ``out_dir/NAME.md``; return the markdown.

    Args:
        out_dir: The folder (made if missing).
        name: The file name without extension.
        payload: JSON-serialisable results.
        render: The benchmark's markdown renderer of that payload.
    """
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, f'{name}.json'), 'w') as f:
        json.dump(payload, f, indent=1)
    text = render(payload)
    with open(osp.join(out_dir, f'{name}.md'), 'w') as f:
        f.write(text)
    return text
