import os
import os.path as osp
import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

import mmtricks  # noqa: F401  (registers the datasets and transforms)
from mmpretrain.registry import DATASETS
from mmtricks.datasets import (DatasetFolderError, export_bundled,
                               load_bundled, stratified_split)

LOAD = [dict(type='LoadImageIfPath')]


def build(data_root, **kwargs):
    return DATASETS.build(dict(
        type='FolderOrBundledDataset', data_root=str(data_root), **kwargs))


def paths_of(dataset):
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def source_index(path):
    """Index in the bundled source of an exported ``<name>_<index>.png``."""
    return int(re.fullmatch(r'[a-z_]+_(\d+)\.png', osp.basename(path))[1])


def write_png(path, value=0, size=4):
    os.makedirs(osp.dirname(path), exist_ok=True)
    pixels = np.full((size, size, 3), value, dtype=np.uint8)
    pixels[0, 0] = 255 - value
    Image.fromarray(pixels).save(path)
    return str(path)


def make_classes(root, counts):
    """Write ``counts[class]`` small PNGs into ``root/<class>/``."""
    for cls, count in counts.items():
        os.makedirs(osp.join(root, cls), exist_ok=True)
        for i in range(count):
            write_png(osp.join(root, cls, f'{i}.png'), value=10 * i)


@pytest.fixture(scope='module')
def pre_split(tmp_path_factory):
    root = tmp_path_factory.mktemp('pre_split')
    summary = export_bundled('lfw_faces', str(root))
    return root, summary


@pytest.fixture(scope='module')
def un_split(tmp_path_factory):
    root = tmp_path_factory.mktemp('un_split')
    summary = export_bundled('lfw_faces', str(root), split='all')
    return root, summary


# --- export_bundled ---------------------------------------------------------

def test_export_writes_the_stratified_split(pre_split):
    root, summary = pre_split
    source = load_bundled('lfw_faces')
    # lfw_faces' default shares, as the bundled dataset serves it
    parts = stratified_split(source.labels, 0.3, 0.3, seed=0)
    assert sorted(os.listdir(root)) == ['test', 'train', 'val']
    assert (summary['val_ratio'], summary['test_ratio']) == (0.3, 0.3)
    for part, indices in zip(('train', 'val', 'test'), parts):
        assert sorted(os.listdir(root / part)) == ['face', 'non_face']
        written = {}
        for cls in ('face', 'non_face'):
            for name in os.listdir(root / part / cls):
                written[source_index(name)] = cls
        assert sorted(written) == sorted(indices.tolist())
        for index, cls in written.items():
            assert cls == source.classes[source.labels[index]]
        assert summary['splits'][part] == dict(Counter(written.values()))
    assert summary['total'] == 200 and summary['num_classes'] == 2
    assert summary['image_size'] == 25
    assert summary['out_dir'] == str(root)


def test_export_png_pixels_match_the_source(pre_split):
    root, _ = pre_split
    source = load_bundled('lfw_faces')
    folder = root / 'val' / 'face'
    for name in sorted(os.listdir(folder))[:5]:
        pixels = np.asarray(Image.open(folder / name))
        np.testing.assert_array_equal(pixels,
                                      source.images[source_index(name)])


def test_export_resizes_and_splits_by_arguments(tmp_path):
    summary = export_bundled('lfw_faces', str(tmp_path), image_size=12,
                             split='test', val_ratio=0.5, test_ratio=0.1,
                             seed=3)
    assert sorted(os.listdir(tmp_path)) == ['test']
    assert summary['splits'] == {'test': {'face': 10, 'non_face': 10}}
    name = os.listdir(tmp_path / 'test' / 'face')[0]
    assert Image.open(tmp_path / 'test' / 'face' / name).size == (12, 12)
    source = load_bundled('lfw_faces')
    _, _, test_idx = stratified_split(source.labels, 0.5, 0.1, seed=3)
    written = sorted(source_index(n) for cls in ('face', 'non_face')
                     for n in os.listdir(tmp_path / 'test' / cls))
    assert written == test_idx.tolist()


def test_export_refuses_a_non_empty_folder(tmp_path):
    user_file = tmp_path / 'notes.txt'
    user_file.write_text('mine')
    with pytest.raises(FileExistsError, match='overwrite=True'):
        export_bundled('lfw_faces', str(tmp_path))
    assert os.listdir(tmp_path) == ['notes.txt']
    # with overwrite the export is written next to the user's file
    summary = export_bundled('lfw_faces', str(tmp_path), overwrite=True)
    assert summary['total'] == 200
    assert user_file.read_text() == 'mine'


def test_export_overwrite_warns_of_foreign_images(tmp_path):
    export_bundled('lfw_faces', str(tmp_path))
    stray = write_png(tmp_path / 'train' / 'face' / 'stray.png')
    with pytest.warns(UserWarning, match='1 image file'):
        export_bundled('lfw_faces', str(tmp_path), overwrite=True)
    assert osp.isfile(stray)


def test_export_bad_arguments_write_nothing(tmp_path):
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match='val_ratio'):
        export_bundled('lfw_faces', str(out), val_ratio=1.0)
    with pytest.raises(ValueError, match='must be below 1'):
        export_bundled('lfw_faces', str(out), val_ratio=0.5, test_ratio=0.5)
    with pytest.raises(ValueError, match='split must be one of'):
        export_bundled('lfw_faces', str(out), split='testing')
    # an un-split folder is split when read: shares here would be ignored
    with pytest.raises(ValueError, match="split='all'.*leave val_ratio"):
        export_bundled('lfw_faces', str(out), split='all', test_ratio=0.1)
    with pytest.raises(ValueError, match='Unknown bundled dataset'):
        export_bundled('cifar', str(out))
    assert not out.exists()


# --- a pre-split train/ + val/ folder ---------------------------------------

def test_pre_split_folder(pre_split):
    root, summary = pre_split
    parts = {split: build(root, split=split)
             for split in ('train', 'val', 'test')}
    assert {k: len(v) for k, v in parts.items()} == dict(
        train=80, val=60, test=60)
    for split, dataset in parts.items():
        assert dataset.metainfo['classes'] == ('face', 'non_face')
        assert all(p.startswith(str(root / split) + os.sep)
                   for p in paths_of(dataset))
    for dataset in parts.values():
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            cls = osp.basename(osp.dirname(info['img_path']))
            assert dataset.metainfo['classes'][info['gt_label']] == cls


@pytest.mark.parametrize('split', ['val', 'test'])
def test_pre_split_folder_serves_the_bundled_images(pre_split, split):
    """Exported then loaded, val and test equal the bundled ones."""
    root, _ = pre_split
    # image_size applies to folders too (their in-memory cache): at the
    # exported size the images are served unchanged, cached or not.
    folder = build(root, split=split, pipeline=LOAD, image_size=25)
    assert folder.cache is not None
    native = build(root, split=split, pipeline=LOAD, image_size=None)
    assert native.cache is None
    bundled = DATASETS.build(dict(type='FolderOrBundledDataset',
                                  bundled='lfw_faces', split=split,
                                  image_size=25, pipeline=LOAD))

    def content(dataset):
        return Counter((dataset[i]['img'].tobytes(), dataset[i]['gt_label'])
                       for i in range(len(dataset)))

    assert folder[0]['img'].shape == (25, 25, 3)
    assert content(folder) == content(bundled) == content(native)


def test_pre_split_all_serves_every_part(pre_split):
    root, _ = pre_split
    everything = build(root, split='all')
    assert everything.metainfo['classes'] == ('face', 'non_face')
    assert len(everything) == 200
    assert sorted(paths_of(everything)) == sorted(
        paths_of(build(root, split='train')) +
        paths_of(build(root, split='val')) +
        paths_of(build(root, split='test')))


@pytest.mark.parametrize('ratio', ['val_ratio', 'test_ratio'])
def test_pre_split_folder_refuses_split_shares(pre_split, ratio):
    """Shares split one folder; on train/ val/ test/ they would be ignored."""
    root, _ = pre_split
    with pytest.raises(DatasetFolderError,
                       match=rf'already split into train/, val/, test/, so '
                       rf'{ratio} would be ignored'):
        build(root, split='train', **{ratio: 0.1})


def test_train_and_val_without_test_has_no_test_split(tmp_path):
    """A user's train/ + val/: val is used as given and never doubles as
    test; asking for test says so and how to get one."""
    make_classes(tmp_path / 'train', {'cat': 4, 'dog': 4})
    make_classes(tmp_path / 'val', {'cat': 2, 'dog': 2})
    assert len(build(tmp_path, split='train')) == 8
    assert len(build(tmp_path, split='val')) == 4
    assert len(build(tmp_path, split='all')) == 12
    with pytest.raises(DatasetFolderError) as error:
        build(tmp_path, split='test')
    message = str(error.value)
    assert f"{str(tmp_path)!r} is split into train/, val/ but has no test/" \
        in message
    assert str(tmp_path / 'test') + '/<class name>/<images>' in message
    assert "test_dataloader.dataset.split='val'" in message


def test_train_and_test_without_val_has_no_val_split(tmp_path):
    """Not mistaken for a one-folder set with classes 'test' and 'train'."""
    make_classes(tmp_path / 'train', {'cat': 4, 'dog': 4})
    make_classes(tmp_path / 'test', {'cat': 2, 'dog': 2})
    assert build(tmp_path, split='test').metainfo['classes'] == ('cat', 'dog')
    with pytest.raises(DatasetFolderError, match='has no val/ folder'):
        build(tmp_path, split='val')


# --- a single un-split folder -----------------------------------------------

def test_un_split_folder_is_split_stratified_and_deterministic(un_split):
    root, summary = un_split
    assert sorted(os.listdir(root)) == ['face', 'non_face']
    assert summary['splits'] == {'all': {'face': 100, 'non_face': 100}}
    paths = {split: paths_of(build(root, split=split))
             for split in ('train', 'val', 'test')}
    everything = paths['train'] + paths['val'] + paths['test']
    assert len(set(everything)) == len(everything) == 200
    assert sorted(everything) == sorted(paths_of(build(root, split='all')))
    # a folder's default shares are 60 / 20 / 20 of each class
    for split, per_class in (('train', 60), ('val', 20), ('test', 20)):
        assert Counter(osp.basename(osp.dirname(p))
                       for p in paths[split]) == {'face': per_class,
                                                  'non_face': per_class}
    # the same on every build, another seed gives another split
    assert paths_of(build(root, split='test')) == paths['test']
    assert set(paths_of(build(root, split='test', seed=1))) != set(
        paths['test'])
    # sorted files in class order follow the source order here, so the
    # folder split is the split of the bundled set itself
    source = load_bundled('lfw_faces')
    for split, indices in zip(('train', 'val', 'test'),
                              stratified_split(source.labels, 0.2, 0.2)):
        assert sorted(source_index(p) for p in paths[split]) == \
            indices.tolist()


def test_un_split_folder_ratios(un_split):
    root, _ = un_split
    assert len(build(root, split='val', val_ratio=0.5)) == 100
    assert len(build(root, split='test', test_ratio=0.1)) == 20
    with pytest.raises(ValueError, match='must be below 1'):
        build(root, split='train', val_ratio=0.5, test_ratio=0.5)


def test_un_split_folder_with_a_tiny_class(tmp_path):
    make_classes(tmp_path, {'cat': 5, 'dog': 2})
    for split in ('train', 'val', 'test'):
        with pytest.raises(DatasetFolderError) as error:
            build(tmp_path, split=split)
        message = str(error.value)
        assert str(tmp_path) in message
        assert "Class 'dog' has 2 image(s)" in message
        assert 'at least 3 per class' in message
        assert 'pre-split as train/, val/ and test/ folders' in message
    # 'all' needs no split
    assert len(build(tmp_path, split='all')) == 7


def test_nested_images_and_hidden_folders(tmp_path):
    make_classes(tmp_path, {'cat': 2, 'dog': 2})
    write_png(tmp_path / 'cat' / 'sub' / 'deep.png')
    write_png(tmp_path / 'cat' / '.cache' / 'thumb.png')
    write_png(tmp_path / '.hidden_class' / 'a.png')
    (tmp_path / 'dog' / 'readme.txt').write_text('not an image')
    dataset = build(tmp_path, split='all')
    assert dataset.metainfo['classes'] == ('cat', 'dog')
    names = sorted(osp.relpath(p, tmp_path) for p in paths_of(dataset))
    assert names == sorted(['cat/0.png', 'cat/1.png', 'cat/sub/deep.png',
                            'dog/0.png', 'dog/1.png'])


# --- bad input --------------------------------------------------------------

def test_missing_data_root(tmp_path):
    missing = tmp_path / 'nope'
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        build(missing)


def test_no_class_folders(tmp_path):
    write_png(tmp_path / 'loose.png')
    with pytest.raises(DatasetFolderError, match='no class sub-folders'):
        build(tmp_path)


def test_empty_class_folder(tmp_path):
    make_classes(tmp_path, {'cat': 3, 'dog': 3, 'bird': 0})
    (tmp_path / 'bird' / 'notes.txt').write_text('no images here')
    with pytest.raises(DatasetFolderError,
                       match=re.escape(str(tmp_path / 'bird')) +
                       '.*holds no image files'):
        build(tmp_path)


def test_single_class(tmp_path):
    make_classes(tmp_path, {'cat': 5})
    with pytest.raises(DatasetFolderError, match="single class.*'cat'"):
        build(tmp_path)


def test_corrupt_image_is_listed(tmp_path):
    make_classes(tmp_path, {'cat': 3, 'dog': 3})
    bad = tmp_path / 'dog' / 'x.png'
    bad.write_bytes(b'this is not a png at all')
    truncated = tmp_path / 'cat' / 'half.png'
    truncated.write_bytes((tmp_path / 'cat' / '0.png').read_bytes()[:30])
    with pytest.raises(DatasetFolderError) as error:
        build(tmp_path, split='all')
    message = str(error.value)
    assert '2 image file(s) cannot be decoded' in message
    assert str(bad) in message and str(truncated) in message
    assert 'check_images=False' in message
    # the check can be turned off; the files are then listed as usual
    dataset = build(tmp_path, split='all', check_images=False)
    assert str(bad) in paths_of(dataset)


def test_corrupt_image_in_pre_split_val(tmp_path):
    make_classes(tmp_path / 'train', {'cat': 2, 'dog': 2})
    make_classes(tmp_path / 'val', {'cat': 1, 'dog': 1})
    bad = tmp_path / 'val' / 'cat' / 'x.png'
    bad.write_bytes(b'\x00garbage')
    assert len(build(tmp_path, split='train')) == 4
    with pytest.raises(DatasetFolderError, match=re.escape(str(bad))):
        build(tmp_path, split='val')


@pytest.mark.parametrize('part', ['val', 'test'])
def test_classes_differ_from_train(tmp_path, part):
    make_classes(tmp_path / 'train', {'cat': 2, 'dog': 2})
    make_classes(tmp_path / 'val', {'cat': 1, 'dog': 1})
    make_classes(tmp_path / 'test', {'cat': 1, 'dog': 1})
    make_classes(tmp_path / part, {'fox': 1})
    assert len(build(tmp_path, split='train')) == 4
    with pytest.raises(DatasetFolderError,
                       match=re.escape(repr(str(tmp_path / part))) +
                       r" \['cat', 'dog', 'fox'\] differ from those of "
                       r"train/ \['cat', 'dog'\]"):
        build(tmp_path, split=part)
    with pytest.raises(DatasetFolderError, match='differ from those of train/'):
        build(tmp_path, split='all')


def test_empty_class_folder_in_pre_split_val(tmp_path):
    make_classes(tmp_path / 'train', {'cat': 2, 'dog': 2})
    make_classes(tmp_path / 'val', {'cat': 1, 'dog': 0})
    with pytest.raises(DatasetFolderError,
                       match=re.escape(str(tmp_path / 'val' / 'dog'))):
        build(tmp_path, split='val')


# --- hidden files and symbolic links ------------------------------------------

def labelled(dataset, root):
    """``{relative path: class name}`` of every sample."""
    classes = dataset.metainfo['classes']
    return {osp.relpath(info['img_path'], root): classes[info['gt_label']]
            for info in (dataset.get_data_info(i)
                         for i in range(len(dataset)))}


def plain_labels(counts):
    return {f'{cls}/{i}.png': cls
            for cls, count in counts.items() for i in range(count)}


def test_hidden_files_are_skipped(tmp_path):
    make_classes(tmp_path, {'cat': 2, 'dog': 2})
    # macOS AppleDouble metadata: not an image, despite its extension
    (tmp_path / 'cat' / '._0.png').write_bytes(b'\x00\x05\x16\x07' * 8)
    write_png(tmp_path / 'dog' / '.thumbnail.png')
    write_png(tmp_path / '__MACOSX' / 'cat' / 'x.png')  # macOS zip metadata
    dataset = build(tmp_path, split='all')  # the decode check passes
    assert labelled(dataset, tmp_path) == plain_labels({'cat': 2, 'dog': 2})


def test_class_folder_with_only_hidden_files(tmp_path):
    make_classes(tmp_path, {'cat': 2, 'dog': 0})
    (tmp_path / 'dog' / '._0.png').write_bytes(b'\x00\x05\x16\x07')
    with pytest.raises(DatasetFolderError,
                       match='holds no image files.*hidden files'):
        build(tmp_path, split='all')


@pytest.mark.parametrize('target', ['..', '.', '../..'])
def test_symlink_loop_is_skipped_with_a_warning(tmp_path, target):
    root = tmp_path / 'data'
    make_classes(root, {'green': 2, 'red': 2})
    loop = root / 'red' / 'sub' / 'loop'
    write_png(root / 'red' / 'sub' / 'deep.png')
    os.symlink(target, loop)  # the class folder, its sub-folder, the root
    with pytest.warns(UserWarning, match=re.escape(str(loop)) + '.*loop'):
        dataset = build(root, split='all')
    assert labelled(dataset, root) == dict(
        plain_labels({'green': 2, 'red': 2}), **{'red/sub/deep.png': 'red'})


def test_symlink_into_another_class_folder_is_refused(tmp_path):
    make_classes(tmp_path, {'green': 2, 'red': 2})
    link = tmp_path / 'red' / 'greens'
    os.symlink(tmp_path / 'green', link)
    with pytest.raises(DatasetFolderError,
                       match=re.escape(str(link)) + ".*class folder 'green'"):
        build(tmp_path, split='all')


def test_symlinked_file_from_another_class_is_refused(tmp_path):
    make_classes(tmp_path, {'green': 2, 'red': 2})
    os.symlink(tmp_path / 'green' / '0.png', tmp_path / 'red' / 'g.png')
    with pytest.raises(DatasetFolderError, match="one class only"):
        build(tmp_path, split='all')


def test_folder_linked_from_outside_is_followed_once(tmp_path):
    root, extra = tmp_path / 'data', tmp_path / 'extra'
    make_classes(root, {'green': 2, 'red': 2})
    write_png(extra / 'e.png')
    os.symlink(extra, root / 'red' / 'a_link')
    os.symlink(extra, root / 'red' / 'b_link')  # the same folder again
    with pytest.warns(UserWarning, match=re.escape(str(root / 'red' /
                                                       'b_link'))):
        dataset = build(root, split='all')
    assert labelled(dataset, root) == dict(
        plain_labels({'green': 2, 'red': 2}), **{'red/a_link/e.png': 'red'})


def test_folder_linked_from_outside_into_two_classes_is_refused(tmp_path):
    root, extra = tmp_path / 'data', tmp_path / 'extra'
    make_classes(root, {'green': 2, 'red': 2})
    write_png(extra / 'e.png')
    os.symlink(extra, root / 'green' / 'more')
    os.symlink(extra, root / 'red' / 'more')
    with pytest.raises(DatasetFolderError,
                       match=re.escape(str(root / 'red' / 'more')) +
                       r".*class 'green'.*one class only"):
        build(root, split='all')


def test_symlinked_class_folders_work(tmp_path):
    root, elsewhere = tmp_path / 'data', tmp_path / 'elsewhere'
    make_classes(elsewhere, {'green': 2, 'red': 2})
    root.mkdir()
    for cls in ('green', 'red'):
        os.symlink(elsewhere / cls, root / cls)
    dataset = build(root, split='all')
    assert labelled(dataset, root) == plain_labels({'green': 2, 'red': 2})


def test_one_corrupt_image_is_a_one_line_error(tmp_path):
    make_classes(tmp_path, {'cat': 3, 'dog': 3})
    bad = tmp_path / 'dog' / 'x.png'
    bad.write_bytes(b'this is not a png at all')
    with pytest.raises(DatasetFolderError) as error:
        build(tmp_path, split='all')
    message = str(error.value)
    assert '\n' not in message
    assert str(bad) in message and 'Replace or delete' in message
