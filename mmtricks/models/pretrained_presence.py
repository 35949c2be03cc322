"""Would this model config start from pretrained weights on this machine?

Read from the backbone's (or the model's) ``init_cfg`` without building or
downloading anything, so that a planner can compare candidates:

- ``PackagedEfficientNetLite``: when its pip package and file are installed;
- ``PretrainedIfAvailable``: when the file is local, or its download is
  already in torch.hub's cache (the planner never downloads; an online
  machine fetches it when the model is built);
- MMEngine's ``Pretrained``: always (it fails the run otherwise).
"""
import os.path as osp
from typing import Iterable, Mapping, Optional

from mmtricks.compat.checkpoint_loading import cached_path, is_url

from .efficientnet_lite_weights import packaged_weights_path


def _init_cfgs(init_cfg) -> Iterable[Mapping]:
    if isinstance(init_cfg, Mapping):
        yield init_cfg
    elif isinstance(init_cfg, (list, tuple)):
        for item in init_cfg:
            yield from _init_cfgs(item)


def _present(init: Mapping) -> bool:
    kind = init.get('type')
    if kind == 'PackagedEfficientNetLite':
        try:
            packaged_weights_path()
        except (ImportError, FileNotFoundError):
            return False
        return True
    if kind == 'PretrainedIfAvailable':
        checkpoint = str(init.get('checkpoint', ''))
        if is_url(checkpoint):
            return osp.isfile(cached_path(checkpoint, init.get('model_dir')))
        return osp.isfile(osp.expanduser(checkpoint))
    return kind == 'Pretrained'


def pretrained_weights_present(model_cfg: Optional[Mapping]) -> bool:
    """True when ``model_cfg`` would load pretrained weights here."""
    if not model_cfg:
        return False
    backbone = model_cfg.get('backbone') or {}
    inits = list(_init_cfgs(backbone.get('init_cfg'))) + \
        list(_init_cfgs(model_cfg.get('init_cfg')))
    return any(_present(init) for init in inits)
