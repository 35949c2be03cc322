"""Checks on what ``tools/deploy.py`` is given, before any work is done:
the config's test pipeline, the work dir, and the checkpoint (read by the
one loader, fitted strictly to the model)."""
import hashlib
import os
import os.path as osp
import tempfile
from typing import Callable, List

import torch

from ..compat.checkpoint_loading import load_checkpoint_file


class DeployInputError(ValueError):
    """A config, checkpoint or work dir that cannot be deployed."""


def inference_pipeline(model_cfg) -> list:
    """The test pipeline, from ``test_pipeline`` or the test dataloader."""
    pipeline = model_cfg.get('test_pipeline')
    if not pipeline:
        loader = model_cfg.get('test_dataloader') or \
            model_cfg.get('val_dataloader') or {}
        pipeline = loader.get('dataset', {}).get('pipeline')
    if not pipeline:
        raise DeployInputError(
            'The config has no test pipeline (neither `test_pipeline` nor '
            '`test_dataloader.dataset.pipeline`): deployment needs it for the '
            'input size and the parity check. Add one (load, resize to the '
            'training size, PackInputs).')
    return list(pipeline)


def check_work_dir(work_dir: str) -> None:
    try:
        os.makedirs(work_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work_dir):
            pass
    except OSError as error:
        raise DeployInputError(
            f'Cannot write to the work dir {work_dir!r} ({error.strerror}). '
            'Pass a writable --work-dir.') from error


def read_checkpoint(checkpoint: str, reader: Callable[[str], object]):
    """``reader(checkpoint)``, its errors (a refused pickle, a damaged file:
    each says why) and a missing file as :class:`DeployInputError`."""
    if not osp.isfile(osp.expanduser(str(checkpoint))):
        raise DeployInputError(
            f'Checkpoint {checkpoint!r} does not exist. Pass the .pth that '
            'training wrote (e.g. work_dirs/auto_mbv3/best_auto_epochs.pth).')
    try:
        return reader(checkpoint)
    except Exception as error:  # noqa: BLE001 - each says why
        raise DeployInputError(str(error)) from error


def load_state_dict(checkpoint: str) -> dict:
    """The checkpoint file, read by the one loader
    (:func:`~mmtricks.compat.checkpoint_loading.load_checkpoint_file`:
    ``weights_only=True`` and the allow-list)."""
    # Called here by name: tests/test_security_inventory.py finds every
    # load path by its calls.
    return read_checkpoint(checkpoint,
                           lambda path: load_checkpoint_file(path))


def checkpoint_state_dict(saved: dict) -> dict:
    """The weights of a loaded checkpoint, without DDP's ``module.`` prefix."""
    state_dict = saved.get('state_dict', saved)
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state_dict.items()}


#: Model state a checkpoint may lack: the operating point of
#: DataAwareClassifier (absent: argmax).
OPTIONAL_KEYS = ('operating_point', )


def checkpoint_mismatches(model: torch.nn.Module,
                          state_dict: dict) -> List[str]:
    """Keys the model needs that the checkpoint lacks or shapes differently."""
    problems = []
    for key, tensor in model.state_dict().items():
        if key not in state_dict and key in OPTIONAL_KEYS:
            continue  # loads as its default (argmax)
        if key not in state_dict:
            problems.append(f'{key}: missing')
        elif tuple(state_dict[key].shape) != tuple(tensor.shape):
            problems.append(f'{key}: checkpoint {tuple(state_dict[key].shape)}'
                            f' vs config {tuple(tensor.shape)}')
    return problems


def check_checkpoint_fits(model: torch.nn.Module, saved: dict,
                          checkpoint: str) -> None:
    problems = checkpoint_mismatches(model, checkpoint_state_dict(saved))
    if not problems:
        return
    hint = ''
    if any(k.startswith('head.') for k in problems):
        classes = saved.get('meta', {}).get('dataset_meta', {}).get('classes')
        count = f' (it was trained on {len(classes)} classes)' \
            if classes else ''
        hint = (f' The head differs: set model.head.num_classes to the '
                f'checkpoint\'s number of classes{count}, e.g. '
                '--cfg-options model.head.num_classes=K.')
    raise DeployInputError(
        f'Checkpoint {checkpoint!r} does not fit the config\'s model: '
        + '; '.join(problems[:5])
        + (f' (and {len(problems) - 5} more)' if len(problems) > 5 else '')
        + '.' + hint)


def build_checked_model(task_processor, checkpoint: str):
    """The PyTorch model with the checkpoint's weights, checked strictly.

    MMDeploy loads checkpoints non-strictly: a checkpoint for another number
    of classes would silently deploy a random head. Check first.

    Returns:
        (model in eval mode, the loaded checkpoint)
    """
    saved = load_state_dict(checkpoint)
    model = task_processor.build_pytorch_model(None)
    check_checkpoint_fits(model, saved, checkpoint)
    model.load_state_dict(checkpoint_state_dict(saved), strict=False)
    return model.eval(), saved


def file_sha256(path: str) -> str:
    """The file's sha256: the report and every IR name the checkpoint by
    it."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
