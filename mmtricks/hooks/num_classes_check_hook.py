from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model


def dataset_classes(dataloader) -> Optional[tuple]:
    dataset = getattr(dataloader, 'dataset', None)
    metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes')
    return tuple(classes) if classes is not None else None


def head_num_classes(model) -> Optional[int]:
    head = getattr(unwrap_model(model), 'head', None)
    return getattr(head, 'num_classes', None)


def num_classes_mismatch(classes, num_classes) -> Optional[str]:
    """Why ``num_classes`` outputs cannot serve ``classes``, or None if they can."""
    if classes is None or num_classes is None or len(classes) == num_classes:
        return None
    return (f'The dataset has {len(classes)} classes but the model head has '
            f'num_classes={num_classes}. Set both to {len(classes)}: '
            f'--cfg-options model.head.num_classes={len(classes)} '
            f'data_preprocessor.num_classes={len(classes)}')


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Fail before the first step when the head does not fit the dataset.

    Too few outputs crash at a random batch with an index error, too many
    train on silently with dead logits; both come from pointing a config at a
    new dataset. Checks the train and val datasets' ``metainfo['classes']``
    against ``model.head.num_classes``.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader)

    def _check(self, runner, dataloader) -> None:
        problem = num_classes_mismatch(dataset_classes(dataloader),
                                       head_num_classes(runner.model))
        if problem:
            raise ValueError(problem)
