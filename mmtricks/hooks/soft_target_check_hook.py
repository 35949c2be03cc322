from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.models.losses import CrossEntropyLoss, LabelSmoothLoss
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model
from ..models.batch_augments.tree import batch_augment_slots, target_smoothing


def soft_target_problem(head, smoothing: float = 0.0) -> Optional[str]:
    """Why ``head`` cannot learn from batch-augmented (soft) targets, or None.

    With batch augments on, ``ClsDataPreprocessor`` hands the head float
    scores of shape ``(N, K)`` instead of class indices, and ``ClsHead``
    feeds them to its loss. ``CrossEntropyLoss`` takes them in every mode
    (``use_soft=True``; the default mode through ``F.cross_entropy``'s
    probability targets, which computes the same value; ``use_sigmoid``
    as per-class BCE targets). ``LabelSmoothLoss`` takes them too but smooths
    them again, so it must not meet targets that are already smoothed.
    Other losses expect class indices.

    Args:
        head: The classification head (``model.head``).
        smoothing (float): Label smoothing already folded into the targets.
    """
    if head is None:
        return None
    if getattr(head, 'cal_acc', False):
        return ('Batch augments produce soft targets, and the head computes '
                'training accuracy (cal_acc=True), which needs class indices '
                'and fails at the first step. Set model.head.cal_acc=False.')
    loss = getattr(head, 'loss_module', None)
    if loss is None or isinstance(loss, CrossEntropyLoss):
        return None
    if isinstance(loss, LabelSmoothLoss):
        if loss.mode == 'multi_label':
            return ('LabelSmoothLoss(mode="multi_label") treats mixed '
                    'targets as multi-label; use mode="original" or '
                    'CrossEntropyLoss(use_soft=True).')
        if smoothing > 0:
            return (f'The batch augment already folds label smoothing '
                    f'{smoothing:g} into the targets and the head\'s '
                    f'LabelSmoothLoss smooths them again. Use '
                    'model.head.loss=dict(type="CrossEntropyLoss", '
                    'use_soft=True), or set the augment\'s label_smoothing=0.')
        return None
    return (f'Batch augments produce soft targets, but the head\'s loss '
            f'{type(loss).__name__} expects class indices. Use '
            'model.head.loss=dict(type="CrossEntropyLoss", use_soft=True), or '
            'remove model.train_cfg.augments.')


@HOOKS.register_module()
class SoftTargetCheckHook(Hook):
    """Fail before the first step when the loss cannot take mixed targets.

    MMPretrain builds batch augments inside the data preprocessor, which
    never sees the head, so a mixing augment feeding a loss made for class
    indices (or smoothing targets twice) is only noticed mid-training, or
    never. This hook runs :func:`soft_target_problem` on the built model
    before training; the model is the same on every rank, so is the
    decision. Nothing is checked when there are no batch augments.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if not any(True for _ in batch_augment_slots(preprocessor)):
            return
        problem = soft_target_problem(getattr(model, 'head', None),
                                      target_smoothing(preprocessor))
        if problem:
            raise ValueError(problem)
