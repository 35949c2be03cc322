"""What this machine's CPUs are: how many this process may use, and what
``/proc/cpuinfo`` says of them (model, nominal clock, feature flags).

The one place that reads them, at the bottom of the package (it imports
nothing of mmtricks): the datasets' decoding threads, the engine's torch
threads and loader workers, and the benchmarks' machine lines all read the
same facts.
"""
import os
from dataclasses import dataclass
from typing import FrozenSet, Optional

CPUINFO = '/proc/cpuinfo'


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under
    ``taskset`` or a container's cpuset), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CpuInfo:
    """The first processor's entries of ``/proc/cpuinfo``.

    Attributes:
        model: ``model name``, None where there is none.
        mhz: ``cpu MHz`` (the nominal clock), None where there is none.
        flags: ``flags`` (the instruction-set features), empty where there
            is none.
    """
    model: Optional[str] = None
    mhz: Optional[float] = None
    flags: FrozenSet[str] = frozenset()


def parse_cpuinfo(text: str) -> CpuInfo:
    """:class:`CpuInfo` from the text of ``/proc/cpuinfo``: the first
    ``model name``, ``cpu MHz`` and ``flags`` lines."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        key = key.strip()
        if sep and key in ('model name', 'cpu MHz', 'flags') and \
                key not in found:
            found[key] = value.strip()
    mhz = found.get('cpu MHz')
    return CpuInfo(model=found.get('model name'),
                   mhz=float(mhz) if mhz else None,
                   flags=frozenset(found.get('flags', '').split()))


def cpu_info(path: str = CPUINFO) -> CpuInfo:
    """This machine's :class:`CpuInfo` (empty where there is no
    ``/proc/cpuinfo``, e.g. macOS)."""
    try:
        with open(path) as f:
            return parse_cpuinfo(f.read())
    except OSError:
        return CpuInfo()
