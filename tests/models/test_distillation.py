import copy
import math
import os
import pickle

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner, load_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from conftest import AUTO_MBV3
from mmtricks.engine import build_runner
from mmtricks.models import (DistillationClassifier, distillation_loss,
                             kl_distillation)
from untrusted_checkpoints import (hub_dir, serve_folder,
                                   write_code_running_checkpoint)


# distillation_loss: the math ----------------------------------------------

def test_hand_computed_example():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # p = (0.75, 0.25)
    ce = math.log(2.0)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    loss = distillation_loss(student, teacher, torch.tensor([0]),
                             temperature=1.0, alpha=0.25)
    assert loss.item() == pytest.approx(0.75 * ce + 0.25 * kl, rel=1e-6)


def test_temperature_squared_scaling():
    torch.manual_seed(0)
    student, teacher = torch.randn(4, 5), torch.randn(4, 5)
    for temperature in (1.0, 2.0, 7.5):
        p_t = F.softmax(teacher / temperature, -1)
        log_p_s = F.log_softmax(student / temperature, -1)
        kl = (p_t * (p_t.log() - log_p_s)).sum(-1).mean()
        expected = temperature**2 * kl
        assert kl_distillation(student, teacher, temperature).item() == \
            pytest.approx(expected.item(), rel=1e-5)
        assert distillation_loss(student, teacher, torch.zeros(4).long(),
                                 temperature, 1.0).item() == \
            pytest.approx(expected.item(), rel=1e-5)


def test_alpha_zero_is_plain_cross_entropy():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.equal(distillation_loss(student, teacher, labels, 4.0, 0.0),
                       F.cross_entropy(student, labels))


def test_identical_logits_give_zero_kl():
    logits = torch.randn(8, 10)
    assert kl_distillation(logits, logits.clone(), 3.0).abs().item() < 1e-6


def test_soft_targets_as_from_mixup():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 3), torch.randn(2, 3)
    hard = torch.tensor([2, 0])
    assert distillation_loss(student, teacher, F.one_hot(hard, 3).float(),
                             2.0, 0.3).item() == pytest.approx(
        distillation_loss(student, teacher, hard, 2.0, 0.3).item())
    mixed = torch.tensor([[0.3, 0.7, 0.0], [0.0, 0.0, 1.0]])
    expected = -(mixed * F.log_softmax(student, -1)).sum(-1).mean()
    assert distillation_loss(student, teacher, mixed, 2.0, 0.0).item() == \
        pytest.approx(expected.item())


@pytest.mark.parametrize('temperature, alpha, match', [
    (0.0, 0.5, 'temperature'), (-1.0, 0.5, 'temperature'),
    (2.0, -0.1, 'alpha'), (2.0, 1.5, 'alpha')])
def test_invalid_temperature_or_alpha(temperature, alpha, match):
    logits = torch.zeros(1, 2)
    with pytest.raises(ValueError, match=match):
        distillation_loss(logits, logits, torch.tensor([0]), temperature,
                          alpha)


# DistillationClassifier ----------------------------------------------------

def classifier_cfg(num_classes=10):
    model = Config.fromfile(AUTO_MBV3).model.to_dict()
    model['backbone']['init_cfg'] = None
    model['head']['num_classes'] = num_classes
    # Plain cross-entropy (auto_mbv3 smooths labels), so the total loss is
    # distillation_loss exactly.
    model['head']['loss'] = dict(type='CrossEntropyLoss', loss_weight=1.0)
    return model


@pytest.fixture
def teacher_checkpoint(tmp_path):
    torch.manual_seed(42)
    teacher = MODELS.build(classifier_cfg())
    path = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict(), 'meta': {}}, path)
    return str(path)


def distiller_cfg(teacher_checkpoint, **kwargs):
    return dict(classifier_cfg(), type='DistillationClassifier',
                teacher=classifier_cfg(), teacher_checkpoint=teacher_checkpoint,
                **kwargs)


def test_class_mismatch_is_refused_at_build(teacher_checkpoint):
    cfg = distiller_cfg(teacher_checkpoint)
    cfg['teacher'] = classifier_cfg(num_classes=5)
    with pytest.raises(ValueError, match='teacher predicts 5 classes and '
                                         'the student 10'):
        MODELS.build(cfg)


def test_missing_teacher_checkpoint_names_the_path(tmp_path):
    missing = str(tmp_path / 'no_such_teacher.pth')
    with pytest.raises(FileNotFoundError, match='no_such_teacher.pth'):
        MODELS.build(distiller_cfg(missing))


def test_missing_file_url_teacher_names_the_path(tmp_path):
    missing = (tmp_path / 'no_such_teacher.pth').as_uri()
    with pytest.raises(FileNotFoundError, match='no_such_teacher.pth'):
        MODELS.build(distiller_cfg(missing))


# The teacher from a URL: downloaded, then loaded with weights_only=True ----

@pytest.fixture
def teacher_server(tmp_path, teacher_checkpoint):
    """``teacher.pth`` (good) and ``evil.pth`` (runs ``touch`` when
    unpickled unsafely, else a valid teacher) over HTTP on 127.0.0.1, with
    torch.hub's cache in ``tmp_path``."""
    www = tmp_path / 'www'
    www.mkdir()
    os.replace(teacher_checkpoint, www / 'teacher.pth')
    state = torch.load(www / 'teacher.pth', weights_only=True)['state_dict']
    marker = tmp_path / 'pwned'
    write_code_running_checkpoint(www / 'evil.pth', marker, state)
    with hub_dir(tmp_path / 'hub'), serve_folder(www) as url:
        yield dict(url=url, www=www, marker=marker, state=state)


@pytest.mark.parametrize('how', ['http', 'file_url'])
def test_teacher_from_url_loads(teacher_server, how):
    url = (teacher_server['url'] + '/teacher.pth' if how == 'http' else
           (teacher_server['www'] / 'teacher.pth').as_uri())
    model = MODELS.build(distiller_cfg(url))
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_server['state'][key]), key


@pytest.mark.parametrize('how', ['http', 'file_url', 'path'])
def test_code_running_teacher_checkpoint_is_refused(teacher_server, how):
    """MMEngine's http loader (torch.hub, weights_only=False) ran the
    pickle's code before; every form of the path is refused now."""
    evil = teacher_server['www'] / 'evil.pth'
    source = dict(http=teacher_server['url'] + '/evil.pth',
                  file_url=evil.as_uri(), path=str(evil))[how]
    with pytest.raises(pickle.UnpicklingError,
                       match='weights_only=True') as info:
        MODELS.build(distiller_cfg(source))
    assert 'evil.pth' in str(info.value)
    assert not teacher_server['marker'].exists()


def test_invalid_temperature_is_refused_at_build(teacher_checkpoint):
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(distiller_cfg(teacher_checkpoint, temperature=0))


def test_loss_is_distillation_loss_and_state_is_student_only(
        teacher_checkpoint):
    model = MODELS.build(distiller_cfg(teacher_checkpoint, temperature=3.0,
                                       alpha=0.4))
    assert isinstance(model, DistillationClassifier)
    state = torch.load(teacher_checkpoint)['state_dict']
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, state[key]), key
    plain = MODELS.build(classifier_cfg())
    assert list(model.state_dict()) == list(plain.state_dict())
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert not teacher_params & {id(p) for p in model.parameters()}

    model.eval()  # no dropout: both sides see the same logits
    torch.manual_seed(0)
    inputs = torch.randn(4, 3, 32, 32)
    labels = [0, 3, 9, 3]
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = model.loss(inputs, samples)
    expected = distillation_loss(model(inputs, mode='tensor'),
                                 model.teacher(inputs, mode='tensor'),
                                 torch.tensor(labels), 3.0, 0.4)
    total = losses['loss'] + losses['loss_distill']
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)


class TeacherWatcher(Hook):
    def __init__(self):
        self.modes = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        self.modes.append((model.training, model.teacher.training))


def test_runner_keeps_teacher_frozen_and_saves_a_plain_student(
        make_fast_config, teacher_checkpoint, tmp_path):
    cfg = make_fast_config(work_dir=tmp_path / 'work', indices=64)
    cfg.model = distiller_cfg(teacher_checkpoint)
    cfg.custom_hooks = []
    runner = build_runner(cfg)
    watcher = TeacherWatcher()
    runner.register_hook(watcher)
    teacher_before = copy.deepcopy(runner.model.teacher.state_dict())
    student_before = copy.deepcopy(runner.model.backbone.state_dict())
    runner.train()

    assert watcher.modes and set(watcher.modes) == {(True, False)}
    teacher = runner.model.teacher
    assert not any(p.requires_grad for p in teacher.parameters())
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert any(not torch.equal(v, student_before[k])
               for k, v in runner.model.backbone.state_dict().items())

    plain = MODELS.build(classifier_cfg())
    load_checkpoint(plain, str(tmp_path / 'work' / 'epoch_1.pth'),
                    strict=True)
    inputs = torch.randn(2, 3, 32, 32)
    runner.model.eval()
    assert torch.equal(plain.eval()(inputs, mode='tensor'),
                       runner.model(inputs, mode='tensor'))


@pytest.mark.parametrize('use_soft', [False, True])
def test_soft_mixup_targets_through_the_model(teacher_checkpoint, use_soft):
    cfg = distiller_cfg(teacher_checkpoint, temperature=2.0, alpha=0.3)
    cfg['head']['loss'] = dict(type='CrossEntropyLoss', use_soft=use_soft)
    model = MODELS.build(cfg).eval()
    torch.manual_seed(0)
    inputs = torch.randn(3, 3, 32, 32)
    scores = torch.softmax(torch.randn(3, 10), -1)
    losses = model.loss(inputs, [DataSample().set_gt_score(s)
                                 for s in scores])
    expected = distillation_loss(model(inputs, mode='tensor'),
                                 model.teacher(inputs, mode='tensor'),
                                 scores, 2.0, 0.3)
    total = losses['loss'] + losses['loss_distill']
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
