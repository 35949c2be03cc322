from .presets import NO_BIAS_DECAY

__all__ = ['NO_BIAS_DECAY']
