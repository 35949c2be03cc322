import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from mmpretrain.registry import TRANSFORMS


class UnreadableImageError(ValueError):
    """An image file that is missing or cannot be decoded."""


def read_image(path: str, color_type: str = 'color',
               backend: str = 'cv2') -> np.ndarray:
    """Decode the image file ``path`` as training does (mmcv, BGR).

    Strict: a damaged file is an :class:`UnreadableImageError` that names
    it. With OpenCV 5 (this stack) ``cv2.imdecode`` also refuses a JPEG cut
    short (mid-scan, or only its end marker missing), which ``cv2.imread``
    and PIL with ``ImageFile.LOAD_TRUNCATED_IMAGES`` return grey-filled.

    Args:
        path (str): The image file.
        color_type (str): Flag of :func:`mmcv.imfrombytes`. Defaults to
            ``'color'`` (3 channels).
        backend (str): Decoder of :func:`mmcv.imfrombytes`. Defaults to
            ``'cv2'``.
    """
    try:
        image = mmcv.imfrombytes(get(path), flag=color_type, backend=backend)
    except Exception as error:
        reason = ' '.join(str(error).split())  # OpenCV's span lines
        raise UnreadableImageError(
            f'Cannot decode image {path!r} ({reason}); replace or delete '
            'the file.') from error
    if image is None:
        raise UnreadableImageError(
            f'Cannot decode image {path!r}: it is damaged (e.g. cut short) '
            'or not an image; replace or delete the file.')
    return image


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
        return read_image(path, self.color_type, self.imdecode_backend)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')
