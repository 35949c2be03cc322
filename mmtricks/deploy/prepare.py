"""The model config made concrete for the checkpoint being deployed: its
data (the user's, or the one it was trained on), the data decisions it
stored, and its classes checked against the data's."""
import os.path as osp
from typing import Callable, Optional

from .inputs import DeployInputError, inference_pipeline, read_checkpoint
from .samples import data_classes


def _print(message: str) -> None:
    print(message, flush=True)


def read_trained_facts(checkpoint: str):
    """What ``checkpoint`` says about its classes and training data
    (:class:`~mmtricks.engine.checkpoint_match.CheckpointFacts`)."""
    from ..engine.checkpoint_match import read_checkpoint_facts
    return read_checkpoint(checkpoint, read_checkpoint_facts)


def names_data(model_cfg, cfg_options: Optional[dict]) -> bool:
    """Whether the user chose the data: a ``data_root`` anywhere in the
    config, or a dataset's folder or bundled set in ``--cfg-options``."""
    from ..engine.checkpoint_match import names_data as config_names_data
    chosen = ('data_root', 'bundled', 'name')
    return config_names_data(model_cfg) or any(
        str(key).rsplit('.', 1)[-1] in chosen and 'dataset' in str(key)
        for key in (cfg_options or {}))


def prepare_configs(model_config: str, deploy_config: str,
                    cfg_options: Optional[dict] = None,
                    checkpoint: Optional[str] = None,
                    log: Callable[[str], None] = _print):
    """The model config made concrete and the deploy config.

    Without a folder or bundled set chosen by the user, the data is the one
    ``checkpoint`` was trained on (refused, naming the setting, when that
    folder is not here); the data decisions are those ``checkpoint``
    stored (the size it was trained at); and the checkpoint's classes must
    be the data's (count, names and order).

    Raises:
        DeployInputError: A missing file, or settings that contradict each
            other, the data or the checkpoint.
    """
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings

    from ..engine.checkpoint_match import (check_checkpoint_classes,
                                           config_data, use_checkpoint_data)
    from ..engine.recipe_config import (RecipeConfigError,
                                        apply_data_decisions)
    for path, what in ((model_config, 'model config'),
                       (deploy_config, 'deploy config')):
        if not osp.isfile(path):
            raise DeployInputError(f'The {what} {path!r} does not exist.')
    model_cfg = Config.fromfile(model_config)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    if model_cfg.get('custom_imports'):
        import_modules_from_strings(**model_cfg.custom_imports)
    trained = read_trained_facts(checkpoint) if checkpoint else None
    try:
        if trained is not None and not names_data(model_cfg, cfg_options):
            log(use_checkpoint_data(model_cfg, trained))
        decisions = apply_data_decisions(model_cfg, checkpoint=checkpoint,
                                         from_checkpoint=True)
        if trained is not None:
            check_checkpoint_classes(trained, data_classes(model_cfg),
                                     config_data(model_cfg))
    except RecipeConfigError as error:
        raise DeployInputError(str(error)) from error
    for reason in decisions.reasons:
        log(f'Data decision: {reason}')
    model_cfg.test_pipeline = inference_pipeline(model_cfg)
    deploy_cfg = Config.fromfile(deploy_config)
    return model_cfg, deploy_cfg
