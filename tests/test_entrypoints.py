"""The ways users meet mmtricks: mim train/test/resume, torchrun, stock configs."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import mmpretrain
import pytest

from conftest import AUTO_MBV3, REPO

MMPRETRAIN_TOOLS = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')
LFW_OPTIONS = [
    'model.backbone.init_cfg=None',
    'model.head.num_classes=2',
    'data_preprocessor.num_classes=2',
    'train_dataloader.dataset.bundled=lfw_faces',
    'val_dataloader.dataset.bundled=lfw_faces',
    'test_dataloader.dataset.bundled=lfw_faces',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
]


def run(cmd, cwd=REPO, timeout=600, env=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def mim(*args):
    return [sys.executable, '-m', 'mim', *args]


def logged_validations(work_dir):
    """``(epoch, top-1)`` of each validation, from the run's scalars.json."""
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(row['step'], row['accuracy/top1']) for row in rows
            if 'accuracy/top1' in row]


@pytest.mark.slow
def test_mim_train_test_and_resume(tmp_path):
    work = str(tmp_path / 'work')
    output = run(mim('train', 'mmpretrain', AUTO_MBV3, '--work-dir', work,
                     '--cfg-options', 'train_cfg.max_epochs=2', *LFW_OPTIONS))
    assert 'LR range test: lr=' in output
    assert osp.isfile(osp.join(work, 'lr_finder.png'))
    checkpoint = osp.join(work, 'epoch_2.pth')
    assert osp.isfile(checkpoint)
    validations = logged_validations(work)
    assert [epoch for epoch, _ in validations] == [1, 2]

    def mim_test(*options):
        output = run(mim('test', 'mmpretrain', AUTO_MBV3, '--checkpoint',
                         checkpoint, '--work-dir', work, '--cfg-options',
                         *LFW_OPTIONS, *options))
        return float(re.findall(r'accuracy/top1: ([\d.]+)', output)[-1])

    # mim test reads the test split by default; on the val split the weights
    # of epoch_2.pth must give exactly the top-1 the run validated at epoch 2
    # (mim prints 4 decimals; one image of lfw_faces' 60 is 1.7 points).
    assert 0 <= mim_test() <= 100
    assert mim_test('test_dataloader.dataset.split=val') == pytest.approx(
        validations[-1][1], abs=1e-3)

    output = run(mim('train', 'mmpretrain', AUTO_MBV3, '--work-dir', work,
                     '--resume', '--cfg-options', 'train_cfg.max_epochs=3',
                     *LFW_OPTIONS))
    assert 'resumed epoch: 2' in output
    assert 'LR range test already done' in output
    assert 'Epoch(train)   [3]' in output or 'Epoch(train) [3]' in output
    assert osp.isfile(osp.join(work, 'epoch_3.pth'))


@pytest.mark.slow
@pytest.mark.dist
def test_torchrun_two_cpu_processes(tmp_path):
    work = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    output = run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port', '29731', osp.join(MMPRETRAIN_TOOLS, 'train.py'),
        AUTO_MBV3, '--launcher', 'pytorch', '--work-dir', work,
        '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=16', *LFW_OPTIONS
    ], env=env)
    assert 'Distributed training: True' in output, output[-3000:]
    # lfw_faces' 80 training images: 40 per rank, batch 16 = 2 iterations
    # (the recipe drops the last partial batch).
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\]', output), output[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


STOCK_CONFIG_WITH_MMTRICKS = '''
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
custom_imports = dict(imports=['mmtricks'], allow_failed_imports=False)
model = dict(head=dict(num_classes=2))
data_preprocessor = dict(num_classes=2)
pipeline = [dict(type='LoadImageIfPath'), dict(type='PackInputs')]
_data = dict(type='BundledDataset', name='lfw_faces', image_size=32,
             pipeline=pipeline, _delete_=True)
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(_data, split='train'))
val_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                      dataset=dict(_data, split='val'))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
custom_hooks = [dict(type='PreciseBNStatsHook', num_samples=64)]
'''


@pytest.mark.slow
def test_stock_config_plus_custom_imports_trains(tmp_path):
    config = tmp_path / 'stock_plus_mmtricks.py'
    config.write_text(STOCK_CONFIG_WITH_MMTRICKS)
    output = run([sys.executable, osp.join(MMPRETRAIN_TOOLS, 'train.py'),
                  str(config), '--work-dir', str(tmp_path / 'work')])
    assert 'BN statistics recomputed' in output
    assert re.search(r'Epoch\(val\) \[1\]', output)
    assert glob.glob(str(tmp_path / 'work' / 'epoch_1.pth'))


def test_custom_imports_resolve_every_mmtricks_type():
    """In a fresh interpreter, only the config line makes our types known."""
    code = '''
from mmengine.config import Config
from mmengine.registry import DefaultScope
cfg = Config.fromstring(
    "custom_imports = dict(imports=['mmtricks'], allow_failed_imports=False)",
    file_format='.py')
from mmpretrain import registry
names = {
    registry.DATASETS: ['BundledDataset', 'FolderOrBundledDataset'],
    registry.TRANSFORMS: ['LoadImageIfPath', 'AugMix', 'YOCO',
                          'RandomErasingPreset'],
    registry.HOOKS: ['PreciseBNStatsHook', 'NumClassesCheckHook', 'LRFinderHook',
                     'AutoEpochsHook', 'MixOffHook', 'SoftTargetCheckHook',
                     'ProgressiveResizingHook', 'HealthCheckHook'],
    registry.PARAM_SCHEDULERS: ['AutoEpochsLR', 'AutoEpochsParamScheduler',
                                'ProgressiveResizingLR'],
    registry.WEIGHT_INITIALIZERS: ['PretrainedIfAvailable', 'ZeroInitLastBN',
                                   'PackagedEfficientNetLite'],
    registry.BATCH_AUGMENTS: ['MixupCutMix', 'RandomResolutionDecrement',
                              'SequentialBatchAugments'],
    registry.MODELS: ['AMSoftmaxClsHead', 'AugMixJSDLoss',
                      'DistillationClassifier', 'EfficientNetLite',
                      'WarmupExponentialMovingAverage',
                      'AugMixDataPreprocessor'],
    registry.OPTIM_WRAPPERS: ['SAMOptimWrapper', 'SAMAmpOptimWrapper'],
    registry.LOG_PROCESSORS: ['ConciseLogProcessor'],
}
DefaultScope.get_instance('t', scope_name='mmpretrain')
for reg, types in names.items():
    for name in types:
        assert reg.get(name) is not None, name
print('resolved', sum(map(len, names.values())))
'''
    output = run([sys.executable, '-c', code])
    assert 'resolved 32' in output
