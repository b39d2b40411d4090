"""Make the callback tests' shared toys (``_callback_toys``) importable under pytest's importlib mode."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
