import os
import signal
import subprocess
import sys
import time

import pytest

from mmtricks.engine.work_dir_lock import (LOCK_NAME, WorkDirBusyError,
                                           busy_with, work_dir_lock)

HOLD = '''
import sys, time
from mmtricks.engine.work_dir_lock import work_dir_lock
with work_dir_lock(sys.argv[1]):
    print('locked', flush=True)
    time.sleep(60)
'''


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path``'s lock."""
    process = subprocess.Popen([sys.executable, '-c', HOLD, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == 'locked'
    yield process
    process.kill()
    process.wait()


def test_a_second_run_is_refused_naming_the_first(tmp_path, holder):
    with pytest.raises(WorkDirBusyError) as error:
        with work_dir_lock(str(tmp_path)):
            pass
    message = str(error.value)
    assert f'process {holder.pid}' in message
    assert str(tmp_path) in message and '--work-dir' in message
    assert f'process {holder.pid}' in busy_with(str(tmp_path))


def test_a_killed_run_leaves_the_work_dir_free(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the file stays, unlocked
    assert busy_with(str(tmp_path)) is None
    with work_dir_lock(str(tmp_path)):
        assert f'process {os.getpid()}' in busy_with(str(tmp_path))
    assert busy_with(str(tmp_path)) is None


def test_no_lock_file_is_not_busy(tmp_path):
    assert busy_with(str(tmp_path / 'new')) is None


def test_the_lock_is_released_when_training_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with work_dir_lock(str(tmp_path)):
            raise RuntimeError('training failed')
    start = time.time()
    with work_dir_lock(str(tmp_path)):
        pass
    assert time.time() - start < 1
