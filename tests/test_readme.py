import os.path as osp
import re

from conftest import REPO


def readme_commands():
    text = open(osp.join(REPO, 'README.md')).read()
    return re.findall(r'```bash\n(.*?)\n```', text, flags=re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = [c for c in readme_commands() if 'pytest' in c]
    assert len(test_command) == 1
    ci = open(osp.join(REPO, '.ci', 'run')).read()
    assert test_command[0].strip() in ci.splitlines()


def test_readme_main_command_trains_the_shipped_config():
    main = [c for c in readme_commands() if 'mim train' in c][0]
    assert 'configs/auto_mbv3.py' in main
    assert osp.isfile(osp.join(REPO, 'configs', 'auto_mbv3.py'))
