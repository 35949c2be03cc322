import logging
import os
import os.path as osp
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import broadcast_object_list, get_dist_info
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS


def is_url(checkpoint: str) -> bool:
    return urlparse(checkpoint).scheme in ('http', 'https', 'file')


def cached_path(url: str, model_dir: Optional[str] = None) -> str:
    """Where torch.hub (and so MMEngine) keeps the download of ``url``."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def fetch_to_cache(url: str, model_dir: Optional[str] = None) -> str:
    """Download ``url`` into the torch.hub cache unless already there."""
    path = cached_path(url, model_dir)
    if not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        torch.hub.download_url_to_file(url, path, progress=False)
    return path


@WEIGHT_INITIALIZERS.register_module()
class PretrainedIfAvailable(PretrainedInit):
    """Load pretrained weights when they can be had, else keep the random init.

    MMEngine's ``Pretrained`` init fails the run when the checkpoint URL
    cannot be downloaded (no network, a firewall); this one logs a single
    WARNING that says how to supply the file and trains on from the model's
    own initialisation. Rank 0 downloads and tells every other rank whether it
    succeeded, so all ranks start from the same weights (MMEngine's
    ``load_from_http`` leaves the other ranks waiting at a barrier when the
    rank-0 download fails).

    A local path is the user's explicit choice: a missing file is an error.

    MMEngine runs only ``type='Pretrained'`` after the sub-modules' own
    ``init_weights``; any other initialiser is overwritten by them. So once
    the weights are loaded, the sub-modules are marked initialised, and the
    loaded weights are final.

    Args:
        checkpoint (str): URL or local path of the checkpoint.
        prefix (str, optional): Load only the sub-module with this prefix,
            e.g. ``'backbone'``. Defaults to None.
        map_location (str): Defaults to ``'cpu'``.
        model_dir (str, optional): Download cache. Defaults to torch.hub's
            ``<hub dir>/checkpoints``.
    """

    def __init__(self, checkpoint, prefix=None, map_location='cpu',
                 model_dir=None):
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.model_dir = model_dir

    def __call__(self, module):
        local = self._local_checkpoint()
        if local is None:
            return
        self.checkpoint = local
        super().__call__(module)
        for child in module.modules():
            if child is not module:
                child.is_init = True

    def _local_checkpoint(self) -> Optional[str]:
        if not is_url(self.checkpoint):
            path = osp.expanduser(self.checkpoint)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'Pretrained checkpoint {path!r} does not exist; fix the '
                    'path in `init_cfg.checkpoint`, or set it to a URL.')
            return path
        rank, world_size = get_dist_info()
        outcome = [None]
        if rank == 0:
            try:
                outcome[0] = ('ok', fetch_to_cache(self.checkpoint,
                                                   self.model_dir))
            except Exception as error:  # any network or HTTP failure
                outcome[0] = ('failed', f'{type(error).__name__}: {error}')
        if world_size > 1:
            broadcast_object_list(outcome, src=0)
        status, detail = outcome[0]
        if status == 'ok':
            return detail
        print_log(
            f'Pretrained weights not available ({detail}): training from '
            f'random init. To fine-tune, download {self.checkpoint} and set '
            '`--cfg-options model.backbone.init_cfg.checkpoint=/path/to/file'
            f'.pth`, or place it at {cached_path(self.checkpoint, self.model_dir)}.',
            logger='current',
            level=logging.WARNING)
        return None


# `init_weights()` may run outside any default scope (a model built by hand),
# where MMEngine looks initialisers up in its root registry only.
ROOT_WEIGHT_INITIALIZERS.register_module(module=PretrainedIfAvailable)
