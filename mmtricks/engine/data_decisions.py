"""The recipe's decisions from the data, as pure rules: each takes facts
about the training split and returns its choice with the reason, in one
line a user can read in the log.

The rules are deterministic functions of the files (no probe training), so
every rank of a distributed run decides the same, and a decision can be
re-derived, or read back from the checkpoint it was stored in.
"""
from typing import Optional, Sequence, Tuple

from ..datasets.class_balance import (IMBALANCE_RATIO, MAX_CLASSES_LISTED,
                                      class_balance)
from ..datasets.facts import median_side


class RecipeConfigError(ValueError):
    """Settings of a recipe config that contradict each other or the data."""


#: MobileNetV3 and EfficientNet-Lite downsample by 32: below 32 px the last
#: feature map is smaller than one pixel.
MIN_IMAGE_SIZE = 32
#: Sides are multiples of the networks' stride, so no feature map is
#: cropped or padded on the way down.
SIZE_STEP = 32
#: The compute budget of the automatic size on a CPU. Training cost grows
#: with the side squared: 128 px costs 16x 32 px (MobileNetV3-small, batch
#: 64, 2 cores: about 0.4 s an iteration at 128 px against 0.1 s at 32 px).
DEFAULT_MAX_IMAGE_SIZE = 128

#: The automatic batch on a split large enough for it (the recipe's
#: measured default on the bundled sets).
DEFAULT_MAX_BATCH_SIZE = 64
#: The fewest optimizer steps an epoch should have: 130 images at batch 64
#: are 2 steps an epoch, and the epoch-based policies (warmup, plateau,
#: anneal) then act on a handful of updates.
MIN_STEPS_PER_EPOCH = 8
#: The smallest automatic batch: BatchNorm trains on the batch's own
#: statistics, which grow noisy below it.
MIN_BATCH_SIZE = 8

TOP1 = 'accuracy/top1'
#: MMPretrain's SingleLabelMetric(average='macro', prefix='macro').
MACRO_F1 = 'macro/f1-score'


def choose_image_size(short_sides: Sequence[int],
                      max_image_size: int = DEFAULT_MAX_IMAGE_SIZE
                      ) -> Tuple[int, str]:
    """The training and inference side from the images' native size.

    The largest multiple of 32 not above the median short side (enlarging
    adds no detail, only cost), at least 32 (the networks' stride), at most
    ``max_image_size`` (the compute budget).

    Args:
        short_sides: The shorter side of each sampled training image.
        max_image_size: The largest side chosen.

    Returns:
        ``(side, reason)``.
    """
    if not short_sides:
        raise ValueError('choose_image_size needs at least one image size.')
    if max_image_size < MIN_IMAGE_SIZE:
        raise ValueError(f'max_image_size must be at least {MIN_IMAGE_SIZE} '
                         f'(the networks\' stride), got {max_image_size}.')
    native = median_side(short_sides)
    seen = (f'the training images\' median short side is {native} px '
            f'({len(short_sides)} sampled)')
    if native < MIN_IMAGE_SIZE:
        return MIN_IMAGE_SIZE, (
            f'image_size {MIN_IMAGE_SIZE}: {seen}, below the networks\' '
            f'stride of {MIN_IMAGE_SIZE}, so they are enlarged to it.')
    size = native // SIZE_STEP * SIZE_STEP
    if size > max_image_size:
        return max_image_size, (
            f'image_size {max_image_size}: {seen}; capped by '
            f'max_image_size={max_image_size}, the compute budget (cost '
            f'grows with the side squared: {max_image_size} px costs '
            f'{(max_image_size / MIN_IMAGE_SIZE) ** 2:.0f}x '
            f'{MIN_IMAGE_SIZE} px). Set image_size=N (or max_image_size) to '
            'train larger.')
    return size, (
        f'image_size {size}: {seen}; the largest multiple of {SIZE_STEP} '
        'not above it (enlarging adds no detail, only cost).')


def choose_batch_size(train_images: int,
                      max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
                      ) -> Tuple[int, str]:
    """The training batch from the training split's size.

    ``max_batch_size``, halved while an epoch would have fewer than
    :data:`MIN_STEPS_PER_EPOCH` full batches, down to
    :data:`MIN_BATCH_SIZE` (never above the split itself). The training
    loader drops each epoch's last partial batch, so BatchNorm never trains
    on a remainder of one or two images.

    Args:
        train_images: Images in the training split.
        max_batch_size: The batch on a split large enough for it.

    Returns:
        ``(batch size, reason)``.
    """
    if train_images < 2:
        raise RecipeConfigError(
            f'A training split of {train_images} image(s) cannot train a '
            'classifier.')
    batch = max_batch_size
    while batch > MIN_BATCH_SIZE and \
            train_images // batch < MIN_STEPS_PER_EPOCH:
        batch //= 2
    batch = min(max(batch, MIN_BATCH_SIZE), train_images)
    steps, dropped = divmod(train_images, batch)
    seen = (f'{train_images} training images give {steps} full batches an '
            f'epoch')
    dropped = (f'; each epoch skips {dropped} image(s), a different few '
               'after each shuffle (drop_last)') if dropped else ''
    if batch == max_batch_size:
        return batch, f'batch_size {batch}: {seen}{dropped}.'
    return batch, (
        f'batch_size {batch}: {seen} (at {max_batch_size}: '
        f'{train_images // max_batch_size}; an epoch gets at least '
        f'{MIN_STEPS_PER_EPOCH} steps where batches of {MIN_BATCH_SIZE}+ '
        f'allow){dropped}. Set batch_size=N to choose.')


def check_batch_size(batch_size: int, train_images: int) -> None:
    """A batch the training loader (which drops the last partial batch)
    can fill at least once."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise RecipeConfigError(
            f"batch_size must be 'auto' or a positive integer, got "
            f'{batch_size!r}.')
    if batch_size > train_images:
        raise RecipeConfigError(
            f'batch_size={batch_size} but the training split has '
            f'{train_images} images, so no full batch: set batch_size to at '
            f"most {train_images}, or batch_size='auto'.")


def choose_monitor(imbalanced: bool, ratio: float,
                   macro_f1_available: bool) -> Tuple[str, str]:
    """The validation metric the epoch policy and the best checkpoint
    follow: top-1, or macro-F1 when the classes are imbalanced (top-1 can
    rise while the minority class is given up; macro-F1 cannot).

    Args:
        imbalanced: What :func:`class_balance` found.
        ratio: The minority/majority ratio.
        macro_f1_available: Whether validation reports ``macro/f1-score``
            (``SingleLabelMetric(average='macro', prefix='macro')``).

    Returns:
        ``(metric name, reason)``.
    """
    if not imbalanced:
        return TOP1, (f'monitor {TOP1}: the classes are balanced enough '
                      f'(minority/majority {ratio:.2f} >= '
                      f'{IMBALANCE_RATIO:g}).')
    if not macro_f1_available:
        raise RecipeConfigError(
            f'The training classes are imbalanced (minority/majority '
            f'{ratio:.2f}), so the recipe monitors {MACRO_F1!r}, but the '
            "val_evaluator does not report it: add dict(type='Single"
            "LabelMetric', average='macro', prefix='macro') to "
            "val_evaluator, or set monitor='accuracy/top1' to monitor "
            'top-1 knowingly.')
    return MACRO_F1, (
        f'monitor {MACRO_F1}: the classes are imbalanced (minority/majority '
        f'{ratio:.2f} < {IMBALANCE_RATIO:g}), where top-1 rewards giving up '
        'the minority class and macro-F1 does not.')


def check_num_classes(num_classes: Optional[int],
                      classes: Sequence[str], source: str) -> int:
    """``num_classes`` from the data, or the user's, checked against it."""
    if num_classes is None or num_classes == 'auto':
        return len(classes)
    if int(num_classes) != len(classes):
        listed = ', '.join(list(classes)[:MAX_CLASSES_LISTED])
        more = ', ...' if len(classes) > MAX_CLASSES_LISTED else ''
        raise RecipeConfigError(
            f'num_classes={num_classes} but {source} has {len(classes)} '
            f'classes ({listed}{more}). Remove num_classes (the recipe reads '
            f'it from the data) or set it to {len(classes)}.')
    return int(num_classes)
