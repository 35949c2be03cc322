"""The GPU plan, checked without a GPU: what the config becomes with CUDA."""
import pytest
from mmengine.config import Config

from conftest import AUTO_MBV3, REPO
from mmtricks.engine.gpu_settings import apply_gpu_settings, gpu_plan


def test_cpu_leaves_the_config_alone():
    cfg = Config.fromfile(AUTO_MBV3)
    before = cfg.to_dict()
    assert apply_gpu_settings(cfg, cuda=False, bf16=False) == []
    assert cfg.env_cfg.cudnn_benchmark is False  # 'auto' settled
    before['env_cfg']['cudnn_benchmark'] = False
    assert cfg.to_dict() == before


@pytest.mark.parametrize('bf16, dtype', [(True, 'bfloat16'),
                                         (False, 'float16')])
def test_cuda_turns_on_amp_pinned_memory_and_autotuning(bf16, dtype):
    cfg = Config.fromfile(AUTO_MBV3)
    [line] = apply_gpu_settings(cfg, cuda=True, bf16=bf16)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert (cfg.optim_wrapper.get('loss_scale') == 'dynamic') == (not bf16)
    assert cfg.optim_wrapper.optimizer.type == 'SGD'  # the rest unchanged
    assert all(cfg[n].pin_memory for n in
               ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    assert cfg.env_cfg.cudnn_benchmark is True
    assert dtype in line


def test_sam_gets_its_amp_twin():
    cfg = Config.fromfile(f'{REPO}/configs/paper_mbv3.py')
    apply_gpu_settings(cfg, cuda=True, bf16=True)
    assert cfg.optim_wrapper.type == 'SAMAmpOptimWrapper'
    assert cfg.optim_wrapper.rho == 0.05


def test_user_choices_are_kept_or_refused_clearly():
    assert gpu_plan(False, True, True, 'OptimWrapper').wrapper is None
    assert gpu_plan('auto', True, True,
                    'AmpOptimWrapper').wrapper is None  # already AMP
    with pytest.raises(ValueError, match='CUDA is not available'):
        gpu_plan(True, False, False, 'OptimWrapper')
    with pytest.raises(ValueError, match='no known AMP twin'):
        gpu_plan('auto', True, True, 'MyWrapper')
    with pytest.raises(ValueError, match="'auto', True or False"):
        gpu_plan('yes', True, True, 'OptimWrapper')
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.train_dataloader.pin_memory = False  # set by the user: kept
    apply_gpu_settings(cfg, cuda=True, bf16=True)
    assert cfg.train_dataloader.pin_memory is False
