"""Context cues shared by a recognizer and the truecasing of lower-case text, in one place.

Plain regular-expression source (no Presidio import), so ``thresher.pii.truecase`` can use it
without loading Presidio.
"""

from __future__ import annotations

# The words before a place name: ``flew to``, ``grew up in``, ``originally from``, ...
# Read by ``recognizers.place_context`` (capitalised places) and ``truecase`` (lower-case chat).
PLACE_CUE = (
    r"(?:(?:flew|fly|flying|flown|moved|moving|relocated|relocating|travel+ed|travel+ing|drove|"
    r"returned|returning|arrived|arriving|emigrated|immigrated|commute[sd]?|went)\s(?:(?:back|here|there|away)\s)?"
    r"(?:to|from|in|at)|grew up in|born in|raised in|lives? in|living in|lived in|based in|"
    r"located in|stationed in|headquartered in|resides? in|residing in|originally from|"
    r"native of|hometown(?: of)?|home (?:city|town)(?: of)?|i am in|i'm in|we are in|"
    r"visiting|a resident of|citizen of)"
)
