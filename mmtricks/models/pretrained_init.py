import logging
import os.path as osp
from typing import Optional

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS

from mmtricks.compat.checkpoint_loading import (CheckpointReadError,
                                                CheckpointUnreachableError,
                                                UnsafeCheckpointError,
                                                cached_path, fetch_checkpoint,
                                                is_url)


@WEIGHT_INITIALIZERS.register_module()
class PretrainedIfAvailable(PretrainedInit):
    """Load pretrained weights; keep the random init only when offline.

    MMEngine's ``Pretrained`` init fails the run when the checkpoint URL
    cannot be downloaded (no network, a firewall); this one, when the host
    cannot be reached at all (no DNS, no route, connection refused, a
    timeout), logs a single WARNING that says how to supply the file and
    trains on from the model's own initialisation. Anything else is an error
    that names the URL or file: an HTTP error (a wrong URL), a full disk or
    an unwritable download folder, a damaged file, or a checkpoint refused by
    ``weights_only=True`` (:mod:`mmtricks.compat.checkpoint_loading`, which
    loads every download).

    Rank 0 downloads and tells every other rank how it went, so all ranks
    start from the same weights or stop with the same error (MMEngine's
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
        source = self.checkpoint
        local = self._local_checkpoint()
        if local is None:
            return
        self.checkpoint = local
        try:
            # MMEngine's loading, whose local-path scheme is mmtricks'
            # weights_only loader (mmtricks.compat.checkpoint_loading).
            super().__call__(module)
        except (UnsafeCheckpointError, CheckpointReadError) as error:
            if local == source:
                raise
            raise type(error)(
                f'{error} It was downloaded from {source}; delete '
                f'{local} to download it again.') from error
        finally:
            self.checkpoint = source
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
        try:
            return fetch_checkpoint(self.checkpoint, self.model_dir)
        except CheckpointUnreachableError as error:
            print_log(
                f'Pretrained weights not available ({error}): training from '
                f'random init. To fine-tune, download {self.checkpoint} and '
                'set `--cfg-options model.backbone.init_cfg.checkpoint='
                '/path/to/file.pth`, or place it at '
                f'{cached_path(self.checkpoint, self.model_dir)}.',
                logger='current',
                level=logging.WARNING)
            return None


# `init_weights()` may run outside any default scope (a model built by hand),
# where MMEngine looks initialisers up in its root registry only.
ROOT_WEIGHT_INITIALIZERS.register_module(module=PretrainedIfAvailable)
