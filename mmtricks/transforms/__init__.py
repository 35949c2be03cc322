from .loading import LoadImageIfPath, UnreadableImageError

__all__ = ['LoadImageIfPath', 'UnreadableImageError']
