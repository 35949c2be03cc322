import os.path as osp
from typing import List, Optional

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .bundled_dataset import (bundled_data_list, check_split, load_rgb_images,
                              select_split)
from .folder import (DatasetFolderError, check_images_readable,
                     scan_class_folders)


def find_split_folder(data_root: str, split: str) -> Optional[str]:
    """``data_root/split`` when the data comes pre-split as train/ and val/."""
    if split == 'all':
        return None
    pre_split = all(
        osp.isdir(osp.join(data_root, part)) for part in ('train', 'val'))
    return osp.join(data_root, split) if pre_split else None


@DATASETS.register_module()
class FolderOrBundledDataset(BaseDataset):
    """The user's folder-per-class images, or a bundled set when none given.

    With ``data_root`` set, the folder follows MMPretrain's ``CustomDataset``
    layout (one sub-folder per class). If it holds ``train/`` and ``val/``
    sub-folders, ``split`` picks one of them; otherwise the single folder is
    split into train and val, stratified by class and the same on every run.
    The folder is checked before training: a missing folder, an empty class
    folder, a single class or an undecodable image is an error that names the
    path and the fix. Classes of a pre-split ``val/`` must match ``train/``.

    With ``data_root=None``, serves :class:`BundledDataset` ``bundled``.

    Images from a folder are loaded by the pipeline (start it with
    ``LoadImageIfPath``, which also passes the bundled in-memory images on).

    Args:
        data_root (str, optional): Folder of the user's dataset. Defaults to
            None (use the bundled set).
        bundled (str): Bundled set used when ``data_root`` is None. Defaults
            to ``'digits'``.
        split (str): ``'train'``, ``'val'`` or ``'all'``. Defaults to
            ``'train'``.
        image_size (int): Image side for the bundled set. Defaults to 32.
        val_ratio (float): Share of each class held out for validation when
            the data is not pre-split. Defaults to 0.2.
        seed (int): Seed of the split. Defaults to 0.
        check_images (bool): Decode-check every image file at start-up.
            Defaults to True.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self,
                 data_root: Optional[str] = None,
                 bundled: str = 'digits',
                 split: str = 'train',
                 image_size: int = 32,
                 val_ratio: float = 0.2,
                 seed: int = 0,
                 check_images: bool = True,
                 **kwargs):
        check_split(split)
        self.folder = osp.expanduser(data_root) if data_root else None
        self.bundled = bundled
        self.split = split
        self.image_size = int(image_size)
        self.val_ratio = val_ratio
        self.seed = seed
        self.check_images = check_images
        self._samples, classes = self._scan()
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=classes)
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    def _scan(self):
        if self.folder is None:
            classes = load_rgb_images(self.bundled, self.image_size)[2]
            return bundled_data_list(self.bundled, self.image_size,
                                     self.split, self.val_ratio,
                                     self.seed), classes
        split_folder = find_split_folder(self.folder, self.split)
        if split_folder is not None:
            samples, classes = scan_class_folders(split_folder)
            self._check_same_classes_as_train(classes)
        elif self.split == 'all' and find_split_folder(self.folder, 'val'):
            # A pre-split folder: 'all' is train/ plus val/ (not two classes
            # named 'train' and 'val').
            samples, classes = scan_class_folders(
                osp.join(self.folder, 'train'))
            val_samples, val_classes = scan_class_folders(
                osp.join(self.folder, 'val'))
            self._check_same_classes_as_train(val_classes, part='val')
            samples = samples + val_samples
        else:
            samples, classes = scan_class_folders(self.folder)
            labels = np.array([label for _, label in samples])
            indices = select_split(labels, self.split, self.val_ratio,
                                   self.seed)
            samples = [samples[i] for i in indices]
        if self.check_images:
            check_images_readable([path for path, _ in samples])
        return [dict(img_path=path, gt_label=label)
                for path, label in samples], classes

    def _check_same_classes_as_train(self, classes, part=None):
        part = part or self.split
        if part == 'train':
            return
        _, train_classes = scan_class_folders(osp.join(self.folder, 'train'))
        if classes != train_classes:
            raise DatasetFolderError(
                f'The class folders of {osp.join(self.folder, part)!r} '
                f'{list(classes)} differ from those of train/ '
                f'{list(train_classes)}: class indices would not match. '
                'Give both the same class sub-folders.')

    def load_data_list(self) -> List[dict]:
        return self._samples
