from typing import List, Union

from mmpretrain.registry import BATCH_AUGMENTS


@BATCH_AUGMENTS.register_module()
class SequentialBatchAugments:
    """Apply several batch augments one after the other.

    MMPretrain's ``train_cfg=dict(augments=[...])`` picks ONE augment per
    batch; this chains them instead, e.g. mix then train at low
    resolution::

        model = dict(train_cfg=dict(augments=dict(
            type='SequentialBatchAugments', augments=[
                dict(type='MixupCutMix', label_smoothing=0.1),
                dict(type='RandomResolutionDecrement', prob=0.5, scale=0.5),
            ])))

    Args:
        augments (list): Batch augment configs (or objects), applied in
            order. ``None`` entries are skipped (that is how
            :class:`~mmtricks.hooks.MixOffHook` switches one off).
    """

    def __init__(self, augments: List[Union[dict, object]]):
        if not isinstance(augments, (list, tuple)) or not augments:
            raise ValueError('augments must be a non-empty list of batch '
                             f'augment configs, got {augments!r}.')
        self.augments = [
            BATCH_AUGMENTS.build(aug) if isinstance(aug, dict) else aug
            for aug in augments
        ]

    def __call__(self, inputs, batch_score):
        batch_score = batch_score.float()
        for augment in self.augments:
            if augment is not None:
                inputs, batch_score = augment(inputs, batch_score)
        return inputs, batch_score

    def __repr__(self) -> str:
        return f'{type(self).__name__}(augments={self.augments!r})'
