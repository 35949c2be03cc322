"""Knowledge distillation from a frozen teacher (Bag of Tricks 5.3).

Hinton et al., "Distilling the Knowledge in a Neural Network", 2015; used
as a refinement in He et al., "Bag of Tricks for Image Classification with
Convolutional Neural Networks", CVPR 2019 (ResNet-152 teaching ResNet-50,
T=20 there).
"""
import os.path as osp
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..compat.checkpoint_loading import file_url_path
from .data_aware_classifier import DataAwareClassifier
from ..compat.private_mmpretrain import (has_loss_from_logits,
                                        head_loss_from_logits)


def check_distillation_args(temperature: float, alpha: float) -> None:
    if not temperature > 0:
        raise ValueError(
            f'Distillation temperature must be > 0, got {temperature}; '
            'typical values are 1 to 20 (the paper uses 20).')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f'Distillation alpha (weight of the teacher term) must be in '
            f'[0, 1], got {alpha}; 0 is plain training, 1 is teacher only.')


def soft_cross_entropy(logits: torch.Tensor,
                       targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy for class indices (N,) or class scores (N, C)."""
    if targets.dim() == 1:
        return F.cross_entropy(logits, targets.long())
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def kl_distillation(student_logits: torch.Tensor,
                    teacher_logits: torch.Tensor,
                    temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(t/T) || softmax(s/T))``, averaged over the batch.

    The ``T^2`` keeps the gradient scale of the soft term independent of the
    temperature (Hinton et al., section 2).
    """
    teacher_prob = F.softmax(teacher_logits.detach() / temperature, dim=-1)
    student_log_prob = F.log_softmax(student_logits / temperature, dim=-1)
    kl = F.kl_div(student_log_prob, teacher_prob, reduction='batchmean')
    return kl * temperature**2


def distillation_loss(student_logits: torch.Tensor,
                      teacher_logits: torch.Tensor,
                      targets: torch.Tensor,
                      temperature: float,
                      alpha: float) -> torch.Tensor:
    """``(1 - alpha) * CE(s, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))``.

    Args:
        student_logits (Tensor): (N, C).
        teacher_logits (Tensor): (N, C); no gradient flows into it.
        targets (Tensor): Class indices (N,) or soft class scores (N, C),
            e.g. from Mixup/CutMix.
        temperature (float): T > 0.
        alpha (float): Weight of the teacher term, in [0, 1].
    """
    check_distillation_args(temperature, alpha)
    return ((1 - alpha) * soft_cross_entropy(student_logits, targets) +
            alpha * kl_distillation(student_logits, teacher_logits,
                                    temperature))


def num_classes_of(classifier: nn.Module) -> Optional[int]:
    return getattr(getattr(classifier, 'head', None), 'num_classes', None)


@MODELS.register_module()
class DistillationClassifier(DataAwareClassifier):
    """An :class:`ImageClassifier` (the student) trained with a teacher.

    A :class:`DataAwareClassifier`, as the recipes' student is: the same
    keys (its operating point included), the same refusal of a config
    whose classes are still left to the data.

    Swap the model type of any MMPretrain classifier config::

        model = dict(type='DistillationClassifier', teacher=teacher_model_cfg,
                     teacher_checkpoint='work_dirs/teacher/epoch_100.pth')

    The student is built from the usual ImageClassifier arguments, so the
    state dict (and every checkpoint) holds exactly the student's keys and
    loads into the plain student config; ``predict`` and ``tensor`` modes
    are the student's. The teacher is kept outside the module tree: it is
    not in ``state_dict()``, ``parameters()`` or the optimizer, follows the
    student across devices and dtypes, has ``requires_grad=False`` and stays
    in eval mode when ``model.train()`` is called.

    The teacher sees the student's preprocessed (normalised, batch-augmented)
    inputs: it must have been trained with the same mean/std and image size.
    The hard-label term is the student head's own loss (label smoothing,
    soft Mixup/CutMix targets work as without distillation), weighted by
    ``1 - alpha``; see :func:`distillation_loss` for the plain-CE form.

    Args:
        teacher (dict): Config of the teacher classifier (any model whose
            ``forward(inputs, mode='tensor')`` returns logits).
        teacher_checkpoint (str): Path, ``file://`` or ``http(s)://`` URL of
            the teacher's weights (a URL is downloaded into torch.hub's
            cache), loaded strictly with ``torch.load(weights_only=True)``
            and the allow-list of :mod:`mmtricks.compat.checkpoint_loading`.
        temperature (float): Softmax temperature T > 0. Defaults to 4.0.
        alpha (float): Weight of the teacher term in [0, 1]. Defaults to 0.5.
        **student: Arguments of :class:`ImageClassifier` (``backbone``,
            ``neck``, ``head``, ``data_preprocessor``, ``train_cfg`` ...).
    """

    def __init__(self,
                 teacher: dict,
                 teacher_checkpoint: str,
                 temperature: float = 4.0,
                 alpha: float = 0.5,
                 **student):
        check_distillation_args(temperature, alpha)
        super().__init__(**student)
        if not has_loss_from_logits(self.head):
            raise TypeError(
                f'DistillationClassifier needs a student head with an '
                f'MMPretrain ClsHead loss; {type(self.head).__name__} has no '
                '`_get_loss`.')
        teacher_model = MODELS.build(teacher) if isinstance(teacher,
                                                            dict) else teacher
        student_classes, teacher_classes = num_classes_of(self), \
            num_classes_of(teacher_model)
        if None not in (student_classes, teacher_classes) and \
                student_classes != teacher_classes:
            raise ValueError(
                f'The teacher predicts {teacher_classes} classes and the '
                f'student {student_classes}: distillation needs the same '
                'classes in the same order. Set the teacher\'s '
                '`head.num_classes` to what its checkpoint was trained with '
                'and use a teacher trained on this dataset.')
        teacher_checkpoint = str(teacher_checkpoint)
        local = None  # a remote checkpoint
        if teacher_checkpoint.startswith('file://'):
            local = file_url_path(teacher_checkpoint)
        elif '://' not in teacher_checkpoint:
            local = osp.expanduser(teacher_checkpoint)
        if local is not None and not osp.isfile(local):
            raise FileNotFoundError(
                f'Teacher checkpoint {teacher_checkpoint!r} does not exist; '
                'set `model.teacher_checkpoint` to the .pth of the trained '
                'teacher.')
        # MMEngine's loader, whose local, file:// and http(s):// schemes are
        # mmtricks' weights_only loader (mmtricks.compat.checkpoint_loading):
        # upstream's http loader would unpickle anything.
        load_checkpoint(teacher_model, local or teacher_checkpoint,
                        map_location='cpu', strict=True, logger='current')
        teacher_model.requires_grad_(False)
        teacher_model.eval()
        # Not a sub-module: keeps it out of state_dict, the optimizer, DDP
        # and `train()`.
        self.__dict__['_teacher'] = teacher_model
        self.temperature = temperature
        self.alpha = alpha

    @property
    def teacher(self) -> nn.Module:
        return self._teacher

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self._teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self._teacher.eval()
        return self

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        student_logits = self.head(self.extract_feat(inputs))
        with torch.no_grad():
            teacher_logits = self._teacher(inputs, mode='tensor')
        losses = head_loss_from_logits(self.head, student_logits,
                                       data_samples)
        losses['loss'] = (1 - self.alpha) * losses['loss']
        losses['loss_distill'] = self.alpha * kl_distillation(
            student_logits, teacher_logits, self.temperature)
        return losses
