"""Counts of image sizes and modes (mmtricks/datasets/image_statistics.py)."""
from PIL import Image

from mmtricks.datasets import duplicates as dup
from mmtricks.datasets.image_statistics import (image_statistics,
                                                statistics_line)

from test_duplicates import picture, save  # noqa: E402


def test_size_and_mode_counts(tmp_path):
    files = [save(tmp_path / 'a.png', picture(0, 40)),
             save(tmp_path / 'b.png', picture(1, 40))]
    rgba = Image.fromarray(picture(2, 30)).convert('RGBA')
    rgba.save(tmp_path / 'c.png')
    files.append(str(tmp_path / 'c.png'))
    splits = ['train', 'train', 'test']
    stats = image_statistics(splits, dup.image_signatures(files))
    assert stats['train'] == dict(images=2, sizes={'40x40': 2},
                                  modes={'L': 2})
    assert stats['all']['modes'] == {'L': 2, 'RGBA': 1}
    assert stats['all']['width'] == dict(min=30, median=40, max=40)
    line = statistics_line(stats)
    assert line.startswith('Images: 3 (train 2, test 1); 2 sizes from '
                           '30x30 to 40x40')
    assert 'modes L 2, RGBA 1; mixed' in line
