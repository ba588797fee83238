"""Advisory cards: turn an Assessment into CDS Hooks 2.0 cards (definitions live in ``cards/``).

renderer = CardRenderer.load()                 # validates cards/ once, at start-up
cards = renderer.render(assessment, patient_id, uuid_factory)
print(renderer.render_text(assessment, cards))
"""

from cds_service.cards.errors import CardConfigError
from cds_service.cards.renderer import CardRenderer

__all__ = ["CardConfigError", "CardRenderer"]
