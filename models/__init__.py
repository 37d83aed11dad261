"""Model builders of the gallery: each returns a ``pm.Model`` built from data.

Import a family by name (``from bnngallery.models import moons``) and call its
``build_model``; ``BUILDERS`` maps the CLI's model names to them.
"""

from . import layers, moons

BUILDERS = {"moons": moons.build_model}

__all__ = ["BUILDERS", "layers", "moons"]
