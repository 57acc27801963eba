"""Generator hooks: data-set specific record makers a spec names as ``generator``."""
