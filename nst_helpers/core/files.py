"""What can be said of an image path without reading it (no torch, no Pillow): the command line
checks its --content and --style with this before it loads anything, and load_image does too."""
import os
import pathlib


def path_problem(path) -> str | None:
    """Why `path` cannot be an image file (missing, a folder, empty) with the fix, or None."""
    path, name = pathlib.Path(path), str(path)
    if not path.exists():
        return f"{name}: no such file. Check the path (relative paths start at {os.getcwd()})."
    if path.is_dir():
        return f"{name} is a directory, not an image file. Pass the path of an image file inside it."
    if path.stat().st_size == 0:
        return f"{name} is empty (0 bytes). Re-download or re-export the image."
    return None
