"""Find the batch augments inside a data preprocessor, however nested."""
from typing import Iterator, Tuple, Union

from mmpretrain.models.utils.batch_augments import Mixup

from .mixup_cutmix import MixupCutMix

Slot = Tuple[Union[list, object], Union[int, str], object]


def batch_augment_slots(preprocessor) -> Iterator[Slot]:
    """``(owner, key, augment)`` for every leaf batch augment.

    ``owner[key]`` (a list) or ``getattr(owner, key)`` (the preprocessor)
    holds ``augment``; containers (MMPretrain's ``RandomBatchAugment``, our
    ``SequentialBatchAugments``: anything with an ``augments`` list) are
    walked into, not yielded.
    """
    root = getattr(preprocessor, 'batch_augments', None)
    if root is not None:
        yield from _walk(preprocessor, 'batch_augments', root)


def _walk(owner, key, augment) -> Iterator[Slot]:
    children = getattr(augment, 'augments', None)
    if isinstance(children, list):
        for index, child in enumerate(children):
            if child is not None:
                yield from _walk(children, index, child)
    else:
        yield owner, key, augment


def is_label_mixing(augment) -> bool:
    """Mixes images and labels: ours, or MMPretrain's Mixup/CutMix/ResizeMix."""
    return isinstance(augment, (MixupCutMix, Mixup))


def switch_off_mixing(preprocessor) -> int:
    """Turn every label-mixing batch augment off; return how many.

    ``MixupCutMix`` keeps its label smoothing (``mix_enabled=False``);
    MMPretrain's mixers are replaced by ``None`` in their container, which
    ``RandomBatchAugment`` and ``SequentialBatchAugments`` treat as "leave
    the batch as it is". Other batch augments are untouched.
    """
    count = 0
    for owner, key, augment in list(batch_augment_slots(preprocessor)):
        if isinstance(augment, MixupCutMix):
            augment.mix_enabled = False
        elif is_label_mixing(augment):
            if isinstance(owner, list):
                owner[key] = None
            else:
                setattr(owner, key, None)
        else:
            continue
        count += 1
    return count


def target_smoothing(preprocessor) -> float:
    """The largest label smoothing a batch augment folds into the targets."""
    return max((getattr(augment, 'label_smoothing', 0.0)
                for _, _, augment in batch_augment_slots(preprocessor)),
               default=0.0)
