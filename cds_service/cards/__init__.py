"""Advisory cards: turn an Assessment into CDS Hooks 2.0 cards (definitions live in ``cards/``)."""
