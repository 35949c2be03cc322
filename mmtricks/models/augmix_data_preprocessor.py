"""The data path of AugMix's Jensen-Shannon consistency loss."""
from typing import List, Sequence, Union

import numpy as np
import torch
from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
from mmpretrain.registry import MODELS


def _chw_tensor(image: np.ndarray) -> torch.Tensor:
    if image.ndim == 2:
        image = image[..., None]
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def with_augmix_views(inputs: Union[torch.Tensor, List[torch.Tensor]],
                      data_samples: Sequence) -> Union[torch.Tensor, list]:
    """``[clean; view 1; view 2]``: the batch tripled in the order
    :class:`~mmtricks.models.losses.AugMixJSDLoss` splits it."""
    views = [sample.get('augmix_views') for sample in data_samples]
    if any(v is None or len(v) != 2 for v in views):
        raise ValueError(
            'AugMixDataPreprocessor needs two AugMix views per training '
            'image: use dict(type="AugMix", jsd_views=True) and '
            'dict(type="PackInputs", algorithm_keys=["augmix_views"]) in the '
            'train pipeline.')
    first = [_chw_tensor(v[0]) for v in views]
    second = [_chw_tensor(v[1]) for v in views]
    if isinstance(inputs, torch.Tensor):
        return torch.cat([inputs, torch.stack(first).to(inputs),
                          torch.stack(second).to(inputs)])
    return list(inputs) + first + second


@MODELS.register_module()
class AugMixDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that adds AugMix's two views in training.

    In training the batch becomes ``[clean; view 1; view 2]`` (3N images,
    N labels), normalised like the clean images; validation and test are
    untouched. Use it with ``AugMix(jsd_views=True)``,
    ``PackInputs(algorithm_keys=['augmix_views'])`` and the head loss
    ``AugMixJSDLoss``. Arguments are ``ClsDataPreprocessor``'s.

    Batch augments (mixup, CutMix, ...) are refused: they would mix the
    three copies of an image with different partners.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.batch_augments is not None:
            raise ValueError(
                'AugMixDataPreprocessor cannot be combined with batch '
                'augments (model.train_cfg.augments): mixing would pair the '
                'clean image and its AugMix views with different images. '
                'Remove the augments or use the plain ClsDataPreprocessor.')

    def forward(self, data: dict, training: bool = False) -> dict:
        if training:
            data = dict(data, inputs=with_augmix_views(
                data['inputs'], data['data_samples']))
        return super().forward(data, training)
