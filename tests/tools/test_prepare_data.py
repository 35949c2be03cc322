import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from mmtricks.datasets import load_bundled, stratified_split

SCRIPT = osp.join(REPO, 'tools', 'prepare_data.py')


def load_main():
    spec = importlib.util.spec_from_file_location('prepare_data', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


main = load_main()


def prepare(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def count_tree(root):
    """``{split: {class: number of PNG files}}`` of an exported folder."""
    return {
        split: {cls: len([f for f in os.listdir(osp.join(root, split, cls))
                          if f.endswith('.png')])
                for cls in sorted(os.listdir(osp.join(root, split)))}
        for split in sorted(os.listdir(root))}


def test_prepare_lfw_faces_then_refuse_to_overwrite(tmp_path):
    out = tmp_path / 'faces'
    result = prepare('lfw_faces', out, '--val-ratio', 0.25, '--test-ratio',
                     0.15, '--seed', 3)
    assert result.returncode == 0, result.stdout + result.stderr

    source = load_bundled('lfw_faces')
    parts = dict(zip(('train', 'val', 'test'),
                     stratified_split(source.labels, 0.25, 0.15, seed=3)))
    expected = {
        split: {cls: int(np.sum(source.labels[idx] == label))
                for label, cls in enumerate(source.classes)}
        for split, idx in parts.items()}
    tree = count_tree(out)
    assert tree == expected == {'train': {'face': 60, 'non_face': 60},
                                'val': {'face': 25, 'non_face': 25},
                                'test': {'face': 15, 'non_face': 15}}
    assert sum(sum(c.values()) for c in tree.values()) == 200
    # the very images of the split, not only its counts
    for split, indices in parts.items():
        files = [f for cls in source.classes
                 for f in os.listdir(out / split / cls)]
        assert sorted(int(f[len('lfw_faces_'):-len('.png')])
                      for f in files) == indices.tolist()

    # the summary and --cfg-options lines that point every loader at it
    assert 'train: 120 images' in result.stdout
    assert 'val: 50 images' in result.stdout
    assert 'test: 30 images' in result.stdout
    for verb in ('train', 'test'):
        command = [line for line in result.stdout.splitlines()
                   if f'mim {verb} mmpretrain configs/auto_mbv3.py' in line]
        assert len(command) == 1
        options = command[0].split('--cfg-options', 1)[1].split()
        for loader in ('train', 'val', 'test'):
            assert f'{loader}_dataloader.dataset.data_root={out}' in options
        assert 'model.head.num_classes=2' in options
        assert 'data_preprocessor.num_classes=2' in options

    # a second run into the same folder stops, names the flag, writes nothing
    marker = out / 'train' / 'face' / 'mine.txt'
    marker.write_text('user file')
    again = prepare('lfw_faces', out, '--seed', 4)
    assert again.returncode != 0
    assert '--overwrite' in again.stderr
    assert count_tree(out) == tree

    # --overwrite writes into it and keeps the user's file (in-process:
    # one subprocess per behaviour above is enough)
    main(['lfw_faces', str(out), '--val-ratio', '0.25', '--test-ratio',
          '0.15', '--seed', '3', '--overwrite'])
    assert count_tree(out) == tree
    assert marker.read_text() == 'user file'


def test_image_size_and_default_shares(tmp_path, capsys):
    out = tmp_path / 'small'
    main(['lfw_faces', str(out), '--image-size', '10'])
    printed = capsys.readouterr().out
    assert 'Wrote 200 10x10 images' in printed
    # lfw_faces' defaults: 40 / 30 / 30 of each class
    assert count_tree(out) == {
        'train': {'face': 40, 'non_face': 40},
        'val': {'face': 30, 'non_face': 30},
        'test': {'face': 30, 'non_face': 30}}
    folder = out / 'test' / 'face'
    assert Image.open(folder / os.listdir(folder)[0]).size == (10, 10)


@pytest.mark.parametrize('args, message', [
    (['--val-ratio', '1.5'], 'val_ratio must be in'),
    (['--test-ratio', '0'], 'test_ratio must be in'),
    (['--val-ratio', '0.5', '--test-ratio', '0.5'],
     'val_ratio + test_ratio must be below 1'),
])
def test_bad_ratios_write_nothing(tmp_path, args, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(['lfw_faces', str(tmp_path / 'bad'), *args])
    assert not (tmp_path / 'bad').exists()
