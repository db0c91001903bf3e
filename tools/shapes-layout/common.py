"""Shared setup of the shapes-world layout (GLIGEN) model: puts tools/shapes-model on
sys.path (its world, module code, tokenizer and export helpers are reused, not copied)
and names the paths every script uses."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHAPES_MODEL = os.path.join(ROOT, "tools", "shapes-model")
sys.path.append(SHAPES_MODEL)  # after this folder: our export.py / evaluate.py shadow theirs
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SHIPPED_MODEL = os.path.join(ROOT, "packages", "model-shapes", "model")
LAYOUT_MODEL = os.path.join(ROOT, "packages", "model-shapes", "layout")
WORK = os.path.join(HERE, ".work")
MAX_OBJECTS = 30  # diffusers' GLIGEN pipeline pads every layout to 30 slots
OPSET = 17
