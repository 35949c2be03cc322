import os
import os.path as osp

from conftest import REPO
from mmtricks.cpu_facts import CpuInfo, cpu_info, parse_cpuinfo, usable_cpus

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
cpu MHz\t\t: 2600.000
flags\t\t: fpu avx2 fma avx512f

processor\t: 1
model name\t: AMD EPYC 9R14
cpu MHz\t\t: 3700.000
flags\t\t: fpu
"""


def test_first_processor_entries_are_read():
    assert parse_cpuinfo(CPUINFO) == CpuInfo(
        model='AMD EPYC 9R14', mhz=2600.0,
        flags=frozenset({'fpu', 'avx2', 'fma', 'avx512f'}))


def test_missing_entries_and_file_give_empty_facts(tmp_path):
    # ARM's /proc/cpuinfo has no 'model name' or 'flags'; macOS has no file
    assert parse_cpuinfo('processor\t: 0\nFeatures\t: neon\n') == CpuInfo()
    assert cpu_info(str(tmp_path / 'absent')) == CpuInfo()


def test_usable_cpus_counts_this_process_cores():
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)


def test_cpuinfo_is_read_in_one_place():
    readers = []
    for top in ('mmtricks', 'tools'):
        for folder, _, files in os.walk(osp.join(REPO, top)):
            for name in files:
                path = osp.join(folder, name)
                if name.endswith('.py') and path != osp.join(
                        REPO, 'mmtricks', 'cpu_facts.py'):
                    with open(path) as f:
                        if "open('/proc/cpuinfo'" in f.read():
                            readers.append(osp.relpath(path, REPO))
    assert readers == [], (
        f'read mmtricks.cpu_facts.cpu_info() instead: {readers}')
