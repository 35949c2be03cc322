"""The command lines are built from DeployOptions: each default is written
once, and every option reaches the deployment."""
import argparse
import os.path as osp
import sys
from dataclasses import fields

import pytest

from conftest import REPO
from mmtricks.deploy.options import (DeployOptions, add_deploy_arguments,
                                     options_from_args)

sys.path.insert(0, osp.join(REPO, 'tools'))


def test_tools_deploy_defaults_are_deploy_options_defaults():
    import deploy  # tools/deploy.py
    args = deploy.parse_args(['cfg.py', 'model.pth', '--work-dir', 'out'])
    assert options_from_args(args) == DeployOptions()


def test_every_field_has_its_option():
    parser = argparse.ArgumentParser()
    add_deploy_arguments(parser)
    changed = parser.parse_args([
        '--precision', 'int8', '--accuracy-tolerance', '0.5',
        '--confidence', '0.9', '--label-free-images', '500',
        '--min-speedup', '1.2', '--no-int8', '--no-accuracy-control',
        '--accuracy-control-iterations', '3', '--report-split', 'val',
        '--device', 'cuda', '--parity-images', '16',
        '--calibration-images', '8', '--benchmark-seconds', '0',
        '--max-top1-drop', '0.1', '--max-disagreement', '0.2',
        '--max-score-diff', '1e-4', '--explain',
        '--max-saliency-diff', '0.01'])
    options = options_from_args(changed)
    assert all(getattr(options, f.name) != f.default
               for f in fields(DeployOptions))
    assert options.accuracy_control_iterations == 3
    assert options.max_score_diff == 1e-4


def test_a_subset_of_options_for_the_benchmark():
    import benchmark  # tools/benchmark.py
    args = benchmark.parse_args(['deploy', '--parity-images', '64'])
    assert options_from_args(args) == DeployOptions(parity_images=64)
    assert benchmark.parse_args(['deploy']).parity_images == \
        DeployOptions().parity_images
    with pytest.raises(ValueError, match='Not DeployOptions fields'):
        add_deploy_arguments(argparse.ArgumentParser(), ['parity'])


def test_explain_is_an_opt_in_switch():
    parser = argparse.ArgumentParser()
    add_deploy_arguments(parser, ['explain', 'int8'])
    assert options_from_args(parser.parse_args([])).explain is False
    assert options_from_args(parser.parse_args(['--explain'])).explain
    with pytest.raises(SystemExit):  # a switch takes no value
        parser.parse_args(['--explain', 'False'])
