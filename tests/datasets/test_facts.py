import io
import os
import re

import numpy as np
import pytest
from PIL import Image

import mmtricks  # noqa: F401  (registers the datasets)
from mmtricks.datasets import DatasetFolderError
from mmtricks.datasets.facts import training_split_facts


def write_jpeg(path, size=(6, 9)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 256, (*size, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG')
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def folder_cfg(root):
    return dict(type='FolderOrBundledDataset', data_root=str(root),
                split='all')


def test_facts_of_a_folder(tmp_path):
    for cls in ('cat', 'dog'):
        for i in range(2):
            write_jpeg(tmp_path / cls / f'{i}.jpg')
    facts = training_split_facts(folder_cfg(tmp_path))
    assert facts.classes == ('cat', 'dog') and facts.counts == (2, 2)
    assert facts.short_sides == (6, ) * 4


@pytest.mark.parametrize('damage', ['corrupt_header', 'not_an_image'])
def test_damaged_image_names_the_file(tmp_path, damage):
    for cls in ('cat', 'dog'):
        for i in range(2):
            data = write_jpeg(tmp_path / cls / f'{i}.jpg')
    bad = tmp_path / 'dog' / '1.jpg'
    # a header cut short ends PIL's header read in 'Truncated File Read'
    bad.write_bytes(data[:30] if damage == 'corrupt_header' else b'text')
    with pytest.raises(DatasetFolderError) as error:
        training_split_facts(folder_cfg(tmp_path))
    message = str(error.value)
    assert re.search(re.escape(repr(str(bad))) + '.*Replace or delete',
                     message)
    assert '\n' not in message


def test_concat_dataset_is_looked_through():
    """ConcatDataset is one of the wrappers: its datasets are the real
    ones, counted together (it crashed building the wrapper itself)."""
    from mmtricks.datasets.facts import unwrap_dataset_cfg
    digits = dict(type='BundledDataset', name='digits', split='train')
    other = dict(digits)
    concat = dict(type='ConcatDataset', datasets=[digits, other])
    assert unwrap_dataset_cfg(concat) is digits
    one = training_split_facts(digits)
    joined = training_split_facts(dict(type='RepeatDataset', times=2,
                                       dataset=concat))
    assert joined.classes == one.classes
    assert joined.counts == tuple(2 * c for c in one.counts)
    assert joined.source == f'{one.source} + {one.source}'


def test_concat_of_other_classes_is_refused(tmp_path):
    for root, classes in (('a', ('cat', 'dog')), ('b', ('cat', 'fox'))):
        for cls in classes:
            write_jpeg(tmp_path / root / cls / '0.jpg')
    concat = dict(type='ConcatDataset', datasets=[
        folder_cfg(tmp_path / 'a'), folder_cfg(tmp_path / 'b')])
    with pytest.raises(DatasetFolderError, match='same classes'):
        training_split_facts(concat)


def test_facts_of_a_bundled_split_count_that_split():
    """The time budget counts val images with it (it counted train's)."""
    from mmpretrain.registry import DATASETS
    for split in ('train', 'val'):
        cfg = dict(type='BundledDataset', name='digits', split=split)
        assert sum(training_split_facts(cfg).counts) == \
            len(DATASETS.build(dict(cfg, pipeline=[])))
