"""classifykit: a folder of images or a table of texts in, a trained, evaluated, saved classifier out.

Layers (data flows one way): ``cli -> tasks (image / text) -> data, text, models, engine -> io``.
"""

from classifykit.errors import ClassifykitError

__version__ = "0.1.0"
__all__ = ["ClassifykitError", "__version__"]
