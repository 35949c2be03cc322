"""A recipe for the benchmarks' resizing tests, and what they compare."""
from typing import Dict

SIZE_STEP = dict(type='CenterCrop', crop_size='image_size')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def recipe_with_one_more_size_step(folder: str) -> str:
    """configs/auto_mbv3.py with a size placeholder no benchmark names (a
    CenterCrop before PackInputs in every pipeline), written in ``folder``:
    a benchmark that resizes by editing the steps it knows (Resize,
    RandomCrop) misses it, ``cfg.image_size = N`` does not."""
    import os.path as osp

    from mmengine.config import Config

    from benchmarks import shipped_config
    cfg = Config.fromfile(shipped_config('auto_mbv3.py'))
    for pipeline in [cfg.train_pipeline, cfg.test_pipeline] + [
            cfg[name].dataset.pipeline for name in LOADERS]:
        pipeline.insert(len(pipeline) - 1, dict(SIZE_STEP))
    path = osp.join(folder, 'recipe_with_one_more_size_step.py')
    cfg.dump(path)
    return path


def size_fields(cfg) -> Dict:
    """Every pipeline of ``cfg`` and its loaders' dataset image_size."""
    fields = dict(train_pipeline=cfg.train_pipeline,
                  test_pipeline=cfg.test_pipeline)
    for name in LOADERS:
        fields[name] = (cfg[name].dataset.pipeline,
                        cfg[name].dataset.image_size)
    return fields
