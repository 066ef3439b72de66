"""Masks as numpy arrays: build, combine, grow, feather and convert them.

A mask is a ``bool`` array of shape ``(H, W)``; **True means "generate here"**.
Every function takes and returns that (or says otherwise), never mutates its
input and refuses anything else with a ``ValueError`` that names the argument
and the fix. Masks become the API's form (an RGBA PNG whose alpha is 0 where
the model may paint) only at the edge, in :func:`to_rgba` / :func:`to_png`.

Coordinates: points are ``(x, y)`` in full-resolution pixels (x right, y
down), boxes ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, shapes
``(H, W)``. A pixel ``(x, y)`` is inside a shape when its centre
``(x + 0.5, y + 0.5)`` is.

>>> m = union(rectangle((8, 8), (1, 1, 4, 4)), ellipse((8, 8), (4, 4, 8, 8)))
>>> describe(m)
'32.8% of 8x8, bbox (1, 1)-(8, 8)'
>>> print(render(m))
--------
-###----
-###----
-###----
-----##-
----####
----####
-----##-
"""

# Every public name lives in a private module with one job; this namespace is the API.
#   _shapes      empty, full, rectangle, ellipse, polygon (exact, pixel centres)
#   _stroke      stroke: the brush, rasterised exactly per segment capsule
#   _algebra     invert, union, intersect, subtract
#   _morphology  grow, shrink, feather (exact Euclidean distances)
#   _regions     fill_holes, remove_small (connected regions)
#   _geometry    resize, crop, pad
#   _facts       bbox, coverage, describe, render
#   _edge        from_image, to_rgba, to_png, preview: where masks meet pictures and the API
#   _runs        the private run-length rasteriser behind ellipse, polygon, stroke, fill_holes
#   _validation  the argument checks and their error messages

from __future__ import annotations

from ._algebra import intersect, invert, subtract, union
from ._edge import from_image, preview, to_png, to_rgba
from ._facts import bbox, coverage, describe, render
from ._geometry import crop, pad, resize
from ._morphology import feather, grow, shrink
from ._regions import fill_holes, remove_small
from ._shapes import ellipse, empty, full, polygon, rectangle
from ._stroke import stroke

__all__ = [
    "bbox",
    "coverage",
    "crop",
    "describe",
    "ellipse",
    "empty",
    "feather",
    "fill_holes",
    "from_image",
    "full",
    "grow",
    "intersect",
    "invert",
    "pad",
    "polygon",
    "preview",
    "rectangle",
    "remove_small",
    "render",
    "resize",
    "shrink",
    "stroke",
    "subtract",
    "to_png",
    "to_rgba",
    "union",
]
