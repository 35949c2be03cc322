import copy
from typing import List, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

# Transforms that set the image size: a half would come back resized.
SHAPE_CHANGING = frozenset({
    'Resize', 'RandomResize', 'RandomChoiceResize', 'ResizeEdge',
    'RandomResizedCrop', 'EfficientNetRandomCrop', 'EfficientNetCenterCrop',
    'CenterCrop', 'RandomCrop', 'Pad', 'RandomTranslatePad',
    'MAERandomResizedCrop', 'PackInputs', 'PackClsInputs', 'LoadImageFromFile',
    'LoadImageIfPath', 'YOCO'
})

HEIGHT, WIDTH = 0, 1


def split_in_two(image: np.ndarray, axis: int) -> Tuple[np.ndarray, np.ndarray]:
    """Cut an ``(H, W, ...)`` image across ``axis`` (0: height, 1: width).

    The first piece has ``side // 2`` rows (columns), the second the rest.
    """
    middle = image.shape[axis] // 2
    if axis == HEIGHT:
        return image[:middle], image[middle:]
    return image[:, :middle], image[:, middle:]


def join_halves(first: np.ndarray, second: np.ndarray,
                axis: int) -> np.ndarray:
    """Inverse of :func:`split_in_two`."""
    return np.concatenate([first, second], axis=axis)


def _type_name(transform) -> str:
    if isinstance(transform, dict):
        return str(transform.get('type', ''))
    return type(transform).__name__


@TRANSFORMS.register_module()
class YOCO(BaseTransform):
    """You Only Cut Once: augment the two halves of an image independently.

    Han et al., "You Only Cut Once: Boosting Data Augmentation with a Single
    Cut" (ICML 2022): cut the image in two equal pieces, across its height
    or its width (chosen at random, 50/50), apply ``transforms`` to each
    piece on its own, and put them back together. The image keeps its shape,
    and each half gets its own random draw, so e.g. a flip becomes one of
    four outcomes. Only ``img`` comes back from the halves: wrap
    photometric and flip-like transforms that keep the image size::

        dict(type='YOCO', transforms=[
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='ColorJitter', brightness=0.4, contrast=0.4)])

    Place it after resizing/cropping and before ``PackInputs``.

    Args:
        transforms (list[dict | callable]): Transforms applied to each half.
    """

    def __init__(self, transforms: List[Union[dict, object]]):
        if not isinstance(transforms, (list, tuple)) or not transforms:
            raise ValueError('YOCO needs a non-empty list of transforms, got '
                             f'{transforms!r}.')
        resizing = [_type_name(t) for t in transforms
                    if _type_name(t) in SHAPE_CHANGING]
        if resizing:
            raise ValueError(
                f'YOCO puts the two halves back together, so its transforms '
                f'must keep the image size; {resizing} change it. Put them '
                'before YOCO in the pipeline.')
        self.transforms = Compose(transforms)

    def transform(self, results: dict) -> dict:
        image = results['img']
        axis = HEIGHT if np.random.rand() < 0.5 else WIDTH
        halves = [self._augment(results, half)
                  for half in split_in_two(image, axis)]
        results['img'] = join_halves(*halves, axis=axis)
        return results

    def _augment(self, results: dict, half: np.ndarray) -> np.ndarray:
        piece = {key: value for key, value in results.items() if key != 'img'}
        piece = copy.deepcopy(piece)
        piece['img'] = np.ascontiguousarray(half)
        piece['img_shape'] = half.shape[:2]
        out = self.transforms(piece)
        if out is None or out['img'].shape != half.shape:
            got = None if out is None else out['img'].shape
            raise ValueError(
                f'A transform inside YOCO changed a half of shape '
                f'{half.shape} into {got}; YOCO needs transforms that keep '
                f'the size. Move it out of YOCO: {self.transforms}')
        return out['img']

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
