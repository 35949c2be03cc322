import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from mmpretrain.registry import TRANSFORMS


class UnreadableImageError(RuntimeError):
    """An image file that exists but cannot be decoded."""


@TRANSFORMS.register_module()
class LoadImageIfPath(BaseTransform):
    """Load ``img_path`` into ``img`` unless an in-memory ``img`` is given.

    One pipeline then serves both folder datasets (paths) and bundled
    in-memory datasets. A file that cannot be decoded raises an error that
    names it, instead of mmcv's bare assertion.

    Required Keys: ``img`` or ``img_path``.
    Added Keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): Convert the image to float32. Defaults to False.
        color_type (str): Flag of :func:`mmcv.imfrombytes`. Defaults to
            ``'color'`` (3 channels, BGR, as mmcv's ``LoadImageFromFile``).
        imdecode_backend (str): Defaults to ``'cv2'``.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2'):
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend

    def transform(self, results: dict) -> dict:
        image = results.get('img')
        if image is None:
            image = self._read(results['img_path'])
        elif image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        if self.to_float32:
            image = image.astype(np.float32)
        results['img'] = image
        results['img_shape'] = image.shape[:2]
        results['ori_shape'] = image.shape[:2]
        return results

    def _read(self, path: str) -> np.ndarray:
        try:
            image = mmcv.imfrombytes(
                get(path), flag=self.color_type, backend=self.imdecode_backend)
        except Exception as error:
            raise UnreadableImageError(
                f'Cannot decode image {path!r} ({error}); replace or delete '
                'the file.') from error
        if image is None:
            raise UnreadableImageError(
                f'Cannot decode image {path!r}; replace or delete the file.')
        return image

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')
