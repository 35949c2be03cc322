"""The one writer of benchmark results: ``NAME.json`` (what was measured)
and ``NAME.md`` rendered from that JSON alone, so a table can always be
rebuilt from the stored numbers."""
import json
import os
import os.path as osp
import shlex
import sys
from typing import Callable, Dict, Optional, Sequence


#: What a payload made under the one scoring rule says it was scored on.
SCORED_ON = 'test'

#: The line that heads a table rendered from a payload stored before the
#: test split, whose top-1 is on the validation images.
VAL_RULE_LABEL = (
    'Scored on val (the rule before the test split): these runs predate '
    'it, and their top-1 is on the validation images the recipes chose '
    'their epochs and weights on, an optimistic number; re-run the '
    'benchmark to score them on test.')


def scored_on_test(payload: Dict) -> bool:
    """Whether a stored payload (or one summary of it) was scored by the
    test rule; older ones carry no ``scored_on`` and were scored on val.

    Args:
        payload: A benchmark's stored JSON, or one of its summaries.
    """
    return payload.get('scored_on') == SCORED_ON


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command that produced a result, as the tables quote it.

    Args:
        argv: The arguments (default ``sys.argv``).
    """
    return 'python ' + ' '.join(shlex.quote(a) for a in (argv or sys.argv))


# Flags that only say where things go; the README's short form of a command
# leaves them out (the full command is in docs/benchmarks/NAME.md).
LOCATION_FLAGS = ('--cache', '--out', '--work-dir')


def short_command(command: str) -> str:
    """``command`` without :data:`LOCATION_FLAGS` and their values.

    Args:
        command: A command as :func:`command_line` quotes it.
    """
    words, kept = shlex.split(command), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in LOCATION_FLAGS:
            skip = True
        elif not word.startswith(tuple(f + '=' for f in LOCATION_FLAGS)):
            kept.append(word)
    return ' '.join(shlex.quote(w) for w in kept)


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
